#pragma once

#include "layerscope/moduletree.h"
#include "layerscope/preprocessing.h"

#include <QWidget>

class QComboBox;
class QLabel;
class QLineEdit;
class QSpinBox;
class QVBoxLayout;

namespace layerscope::ui {

// One row per forward argument (an image or an .npy tensor), the preprocessing (a preset, or the
// size to resize to), and a preview of the first input exactly as the model receives it.
class InputPanel : public QWidget {
    Q_OBJECT

public:
    explicit InputPanel(QWidget* parent = nullptr);

    void setArguments(const std::vector<ArgumentInfo>& arguments);
    QStringList inputs() const;
    void setInputs(const QStringList& paths);
    Preprocessing preprocessing() const;
    void setPreprocessing(const Preprocessing& preprocessing);
    void showPreview(const Tensor& modelInput); // [1, C, H, W]
    const QImage& previewImage() const { return preview_; }

signals:
    void inputsChanged();

private:
    void browse(int row);
    void rebuildRows(int count);

    std::vector<ArgumentInfo> arguments_;
    QVBoxLayout* rowsLayout_;
    QList<QLineEdit*> paths_;
    QComboBox* preset_;
    QComboBox* color_;
    QSpinBox* width_;
    QSpinBox* height_;
    QLabel* previewLabel_;
    QImage preview_;
};

// A [1, C, H, W] (or [C, H, W]) tensor as an image, its range stretched to 0..255.
QImage tensorToImage(const Tensor& tensor);

} // namespace layerscope::ui
