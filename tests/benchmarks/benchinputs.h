#pragma once
// What the model benchmarks feed their models: seeded standard-normal images, the same in every run.

#include "layerscope/tensor.h"

#include <random>

namespace layerscope::bench {

inline Tensor randomImages(int batch, int side = 224, unsigned seed = 42)
{
    Tensor input = Tensor::zeros({batch, 3, side, side}, DType::Float32);
    std::mt19937 random(seed);
    std::normal_distribution<float> normal;
    auto* values = static_cast<float*>(input.mutableData());
    for (std::int64_t i = 0; i < input.numel(); ++i)
        values[i] = normal(random);
    return input;
}

} // namespace layerscope::bench
