#pragma once
// Conversions between layerscope::Tensor and at::Tensor. Private: includes LibTorch.

#include "layerscope/tensor.h"

#include <ATen/ATen.h>

namespace layerscope::detail {

at::ScalarType toScalarType(DType dtype);
bool fromScalarType(at::ScalarType type, DType* dtype);

// A contiguous at::Tensor viewed as a layerscope::Tensor without copying: the buffer keeps the
// at::Tensor alive. Throws layerscope::Error for dtypes the engine does not carry (complex, quantized).
Tensor fromAten(const at::Tensor& contiguous);

// An at::Tensor over the same buffer (no copy); the result keeps `tensor`'s buffer alive.
at::Tensor toAten(const Tensor& tensor);

} // namespace layerscope::detail
