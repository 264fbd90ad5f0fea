#pragma once
// The engine's pixels (RgbImage, input tensors) as QImages.

#include "layerscope/render.h"

#include <QImage>

namespace layerscope::ui {

QImage toQImage(const RgbImage& image); // a deep copy

// The first sample of a [N, C, H, W] (or [C, H, W]) input as the model sees it, its range stretched
// (renderInputImage); a null image for other shapes.
QImage tensorToImage(const Tensor& tensor);

} // namespace layerscope::ui
