#include "layerscope/statistics.h"

#include "floatbits_p.h"
#include "layerscope/error.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace layerscope {

namespace {

template <typename Visit> void forEachValue(const Tensor& tensor, Visit&& visit)
{
    const std::int64_t n = tensor.numel();
    switch (tensor.dtype) {
    case DType::Float32:
        for (std::int64_t i = 0; i < n; ++i)
            visit(double(tensor.values<float>()[i]));
        break;
    case DType::Float64:
        for (std::int64_t i = 0; i < n; ++i)
            visit(tensor.values<double>()[i]);
        break;
    case DType::Float16:
        for (std::int64_t i = 0; i < n; ++i)
            visit(double(detail::halfToFloat(tensor.values<std::uint16_t>()[i])));
        break;
    case DType::BFloat16:
        for (std::int64_t i = 0; i < n; ++i)
            visit(double(detail::bfloat16ToFloat(tensor.values<std::uint16_t>()[i])));
        break;
    case DType::Int8:
        for (std::int64_t i = 0; i < n; ++i)
            visit(double(tensor.values<std::int8_t>()[i]));
        break;
    case DType::Int16:
        for (std::int64_t i = 0; i < n; ++i)
            visit(double(tensor.values<std::int16_t>()[i]));
        break;
    case DType::Int32:
        for (std::int64_t i = 0; i < n; ++i)
            visit(double(tensor.values<std::int32_t>()[i]));
        break;
    case DType::Int64:
        for (std::int64_t i = 0; i < n; ++i)
            visit(double(tensor.values<std::int64_t>()[i]));
        break;
    case DType::UInt8:
        for (std::int64_t i = 0; i < n; ++i)
            visit(double(tensor.values<std::uint8_t>()[i]));
        break;
    case DType::Bool:
        for (std::int64_t i = 0; i < n; ++i)
            visit(tensor.values<std::uint8_t>()[i] ? 1.0 : 0.0);
        break;
    }
}

} // namespace

TensorStatistics computeStatistics(const Tensor& tensor)
{
    TensorStatistics s;
    s.count = tensor.numel();
    double sum = 0, sumSquares = 0;
    std::int64_t zeros = 0;
    s.min = std::numeric_limits<double>::infinity();
    s.max = -std::numeric_limits<double>::infinity();
    forEachValue(tensor, [&](double v) {
        if (std::isnan(v)) {
            ++s.nanCount;
        } else if (std::isinf(v)) {
            ++s.infCount;
        } else {
            ++s.finite;
            sum += v;
            sumSquares += v * v;
            s.min = std::min(s.min, v);
            s.max = std::max(s.max, v);
            zeros += v == 0.0;
        }
    });
    if (s.finite > 0) {
        s.mean = sum / double(s.finite);
        s.std = std::sqrt(std::max(0.0, sumSquares / double(s.finite) - s.mean * s.mean));
    } else {
        s.min = s.max = 0;
    }
    s.zeroFraction = s.count ? double(zeros) / double(s.count) : 0;
    return s;
}

Histogram computeHistogram(const Tensor& tensor, int bins)
{
    const TensorStatistics s = computeStatistics(tensor);
    Histogram h;
    bins = std::max(1, bins);
    h.low = s.min;
    h.high = s.max;
    if (h.high <= h.low) { // one value: one bin around it
        h.low -= 0.5;
        h.high += 0.5;
        bins = 1;
    }
    h.counts.assign(std::size_t(bins), 0);
    const double scale = bins / (h.high - h.low);
    forEachValue(tensor, [&](double v) {
        if (!std::isfinite(v))
            return;
        const int bin = std::min(bins - 1, std::max(0, int((v - h.low) * scale)));
        ++h.counts[std::size_t(bin)];
    });
    return h;
}

std::vector<double> valuesAsDoubles(const Tensor& tensor)
{
    std::vector<double> values;
    values.reserve(std::size_t(tensor.numel()));
    forEachValue(tensor, [&](double v) { values.push_back(v); });
    return values;
}

} // namespace layerscope
