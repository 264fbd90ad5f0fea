#pragma once

#include "layerscope/moduletree.h"
#include "layerscope/preprocessing.h"

#include <QWidget>

class QLabel;
class QLineEdit;
class QListWidget;
class QVBoxLayout;

namespace layerscope::ui {

class PreprocessingEditor;
class ScaledImage;
class ThumbnailLoader;

// One row per forward argument: an image, an .npy tensor, or a folder of images (shown as a list of
// thumbnails to step through, filled in as a worker lists and decodes them; the selected one is run,
// and a folder row has no input until its list arrives). Below: the preprocessing editor and a
// preview of the first input exactly as the model receives it.
class InputPanel : public QWidget {
    Q_OBJECT

public:
    explicit InputPanel(QWidget* parent = nullptr);

    void setArguments(const std::vector<ArgumentInfo>& arguments);
    // The file each argument runs now (for a folder: its selected image).
    QStringList inputs() const;
    // What each row holds: a file, or a folder for a folder row.
    QStringList sources() const;
    void setInputs(const QStringList& paths);
    Preprocessing preprocessing() const;
    void setPreprocessing(const Preprocessing& preprocessing);
    void showPreview(const Tensor& modelInput);             // [1, C, H, W]
    const ScaledImage* preview() const { return preview_; } // the first input as the model sees it
    QListWidget* thumbnails() const { return thumbnails_; }
    PreprocessingEditor* preprocessingEditor() const { return editor_; }
    ThumbnailLoader* thumbnailLoader() const { return loader_; }

signals:
    void inputsChanged();

private:
    void browse(int row, bool folder);
    void rebuildRows(int count);
    void refreshThumbnails();

    std::vector<ArgumentInfo> arguments_;
    QVBoxLayout* rowsLayout_;
    QList<QLineEdit*> paths_;
    QListWidget* thumbnails_;
    int thumbnailRow_ = -1;   // the folder row whose images the list shows
    ThumbnailLoader* loader_; // lists and decodes the folder off the GUI thread
    PreprocessingEditor* editor_;
    ScaledImage* preview_;
};

} // namespace layerscope::ui
