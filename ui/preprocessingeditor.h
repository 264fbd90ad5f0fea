#pragma once

#include "layerscope/preprocessing.h"

#include <QWidget>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;

namespace layerscope::ui {

// Every step of the engine's preprocessing pipeline, with the presets (ImageNet, grayscale) as
// starting points: resize (none, exact, shorter side), center crop, colour mode, scale to [0,1],
// per-channel mean and std, interpolation.
class PreprocessingEditor : public QWidget {
    Q_OBJECT

public:
    explicit PreprocessingEditor(QWidget* parent = nullptr);
    Preprocessing preprocessing() const;
    void setPreprocessing(const Preprocessing& preprocessing);
    bool isValid() const; // mean and std parse as numbers
    // Offers the size the model takes (from a failed run) as one click: Resize to width x height.
    void suggestSize(int channels, int height, int width);
    QPushButton* suggestionButton() const { return suggestion_; }
    QSpinBox* widthBox() const { return width_; }

signals:
    void changed();

private:
    void updateEnabled();

    QComboBox* preset_;
    QComboBox* resize_;
    QSpinBox* width_;
    QSpinBox* height_;
    QCheckBox* crop_;
    QSpinBox* cropWidth_;
    QSpinBox* cropHeight_;
    QComboBox* color_;
    QCheckBox* scale_;
    QLineEdit* mean_;
    QLineEdit* std_;
    QComboBox* interpolation_;
    QLabel* suggestionText_;
    QPushButton* suggestion_;
    int suggestedChannels_ = 0;
    int suggestedHeight_ = 0;
    int suggestedWidth_ = 0;
    std::string applied_; // the steps as last applied: a box left unchanged runs nothing
};

} // namespace layerscope::ui
