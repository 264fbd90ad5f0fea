#pragma once

#include "layerscope/render.h"
#include "layerscope/tensor.h"

#include <QDialog>
#include <QImage>

class QCheckBox;
class QLabel;
class QSlider;

namespace layerscope::ui {

class FeatureMapView;

// One channel of a feature map in detail: filling the window (sharp pixels, or smoothed), the
// value under the cursor, drawn over the input image with an opacity slider, its histogram, and a
// button to save it as PNG at a useful size.
class ChannelDialog : public QDialog {
    Q_OBJECT

public:
    // `values` is [1, 1, H, W], channel `channel` of a layer; `input` is the model's input as an
    // image (may be null).
    ChannelDialog(const QString& title, const Tensor& values, int channel, Colormap colormap, const QImage& input,
                  QWidget* parent = nullptr);

    // The channel in its colours, upscaled with sharp pixels to at least the input's size (at
    // least 256 pixels without an input). Written in place only when complete.
    bool saveImage(const QString& path);
    QImage upscaledImage() const;
    FeatureMapView* view() const { return view_; }
    QImage overlayImage() const { return overlay_; }

signals:
    void failed(const QString& message);

private:
    void drawOverlay();

    FeatureMapView* view_;
    QImage input_;
    QImage overlay_;
    QLabel* overlayLabel_;
    QSlider* opacity_;
};

} // namespace layerscope::ui
