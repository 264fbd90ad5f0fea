#pragma once

#include "layerscope/render.h"
#include "layerscope/tensor.h"

#include <QDialog>

namespace layerscope::ui {

// One channel of a feature map in detail: large, the value under the cursor, drawn over the input
// image with an opacity slider, its histogram, and a button to save it as PNG.
class ChannelDialog : public QDialog {
    Q_OBJECT

public:
    // `channel` is [1, 1, H, W]; `input` is the model's input as an image (may be null).
    ChannelDialog(const QString& title, const Tensor& channel, Colormap colormap, const QImage& input,
                  QWidget* parent = nullptr);

signals:
    void failed(const QString& message);
};

} // namespace layerscope::ui
