#pragma once
// The input methods (saliency, smoothgrad, integrated-gradients): gradients with respect to every
// floating-point forward argument, at the inputs' resolution. explain() hands them over.

#include "layerscope/attribution.h"

namespace layerscope::detail {

Attribution attributeInputs(const Model& model, const std::vector<Tensor>& inputs, const AttributionRequest& request,
                            const JobControl* job);

// LayerScope's seeded noise: a standard normal for element `index` of stream (seed, draw,
// argument), Box-Muller on splitmix64 of a counter, so that Python reproduces it bit for bit
// (tests/fixtures/cam_reference.py) and a batch's noise does not depend on threads.
double standardNormal(std::uint64_t seed, std::uint64_t draw, std::uint64_t argument, std::uint64_t index);

} // namespace layerscope::detail
