#pragma once
// Numbers that describe an activation: what the statistics panel and the histograms show.

#include "layerscope/tensor.h"

#include <cstdint>
#include <vector>

namespace layerscope {

struct TensorStatistics {
    std::int64_t count = 0;  // elements
    std::int64_t finite = 0; // elements that are neither NaN nor infinite
    std::int64_t nanCount = 0;
    std::int64_t infCount = 0;
    double min = 0, max = 0, mean = 0, std = 0; // over the finite elements
    double zeroFraction = 0;                    // exact zeros / count
};

TensorStatistics computeStatistics(const Tensor& tensor);

struct Histogram {
    double low = 0, high = 0;         // range of the bins
    std::vector<std::int64_t> counts; // finite values only; high falls into the last bin
    double binWidth() const { return counts.empty() ? 0 : (high - low) / double(counts.size()); }
};

// `bins` equal bins over [min, max] of the finite values (a single value: one bin around it).
Histogram computeHistogram(const Tensor& tensor, int bins);

// The values as doubles (any dtype), for plots.
std::vector<double> valuesAsDoubles(const Tensor& tensor);

} // namespace layerscope
