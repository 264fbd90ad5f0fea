#pragma once

#include "layerscope/preprocessing.h"

#include <QWidget>

class QCheckBox;
class QComboBox;
class QLineEdit;
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
};

} // namespace layerscope::ui
