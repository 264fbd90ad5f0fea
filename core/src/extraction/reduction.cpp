#include "extraction/reduction_p.h"

#include "layerscope/error.h"
#include "layerscope/statistics.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <numeric>

namespace layerscope::detail {

namespace {

bool floating(DType dtype)
{
    return dtype == DType::Float32 || dtype == DType::Float64 || dtype == DType::Float16 || dtype == DType::BFloat16;
}

// [N, C, H, W] to [N, C] (the mean or the maximum over H x W), in float64, stored as `as`.
Tensor poolMaps(const Tensor& maps, MapPooling how, DType as)
{
    const std::int64_t n = maps.shape[0], channels = maps.shape[1], area = maps.shape[2] * maps.shape[3];
    const std::vector<double> values = valuesAsDoubles(maps);
    std::vector<double> pooled(std::size_t(n * channels));
    for (std::int64_t plane = 0; plane < n * channels; ++plane) {
        const auto first = values.begin() + plane * area, last = first + area;
        pooled[std::size_t(plane)] = area == 0 ? 0.0
            : how == MapPooling::Max           ? *std::max_element(first, last)
                                               : std::accumulate(first, last, 0.0) / double(area);
    }
    Tensor out = Tensor::zeros({n, channels}, DType::Float64);
    std::copy(pooled.begin(), pooled.end(), static_cast<double*>(out.mutableData()));
    return as == DType::Float64 ? out : convertFloating(out, DType::Float32);
}

// [N, T, D] to [N, D]: token 0 (a class token), or the mean over tokens.
Tensor poolTokens(const Tensor& tokens, TokenPooling how, DType as)
{
    const std::int64_t n = tokens.shape[0], t = tokens.shape[1], d = tokens.shape[2];
    const std::vector<double> values = valuesAsDoubles(tokens);
    Tensor out = Tensor::zeros({n, d}, DType::Float64);
    double* o = static_cast<double*>(out.mutableData());
    for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t c = 0; c < d; ++c) {
            if (how == TokenPooling::ClassToken) {
                o[i * d + c] = t > 0 ? values[std::size_t((i * t) * d + c)] : 0.0;
                continue;
            }
            double sum = 0;
            for (std::int64_t k = 0; k < t; ++k)
                sum += values[std::size_t((i * t + k) * d + c)];
            o[i * d + c] = t > 0 ? sum / double(t) : 0.0;
        }
    return as == DType::Float64 ? out : convertFloating(out, DType::Float32);
}

// Pooled in float64 and kept as float64 or float32; a float16 capture (a half-precision model's)
// stays float16, and --dtype float16 rounds to it (to nearest even, once, as numpy's astype).
Tensor reducedTensor(const Tensor& tensor, const FeatureReduction& reduce)
{
    if (!floating(tensor.dtype))
        return tensor;
    Tensor out = tensor;
    const bool half = reduce.float16 || tensor.dtype == DType::Float16;
    // A half result is rounded once, from the float64 pool (through float32 it could be a step off).
    const DType as = tensor.dtype == DType::Float64 || half ? DType::Float64 : DType::Float32;
    if (out.shape.size() == 4 && reduce.maps != MapPooling::None)
        out = poolMaps(out, reduce.maps, as);
    else if (out.shape.size() == 3 && reduce.tokens != TokenPooling::None)
        out = poolTokens(out, reduce.tokens, as);
    return half ? convertFloating(out, DType::Float16) : out;
}

} // namespace

void checkReduction(const FeatureReduction& reduce, ExportFormat format, const std::string& outputPath)
{
    if (reduce.float16 && format != ExportFormat::Npz && format != ExportFormat::NpyFolder && format != ExportFormat::Pt
        && format != ExportFormat::Hdf5)
        throw Error("--dtype float16: " + outputPath + ": " + exportFormatName(format)
                    + " cannot hold half precision (MATLAB has no float16); write .npz, .npy, .pt or .h5");
}

RunResult reduced(const RunResult& run, const FeatureReduction& reduce)
{
    if (!reduce.any())
        return run;
    RunResult out = run;
    for (auto* list : {&out.captures, &out.outputs})
        for (Capture& capture : *list)
            capture.tensor = reducedTensor(capture.tensor, reduce);
    return out;
}

std::string reductionJson(const FeatureReduction& reduce)
{
    nlohmann::json json = nlohmann::json::object();
    if (reduce.maps != MapPooling::None)
        json["maps"] = reduce.maps == MapPooling::Max ? "max" : "avg";
    if (reduce.tokens != TokenPooling::None)
        json["tokens"] = reduce.tokens == TokenPooling::Mean ? "mean" : "cls";
    if (reduce.float16)
        json["dtype"] = "float16";
    return json.dump();
}

} // namespace layerscope::detail
