#include "layerscope/tensor.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <type_traits>

namespace layerscope {

std::size_t elementSize(DType dtype)
{
    switch (dtype) {
    case DType::Float64:
    case DType::Int64: return 8;
    case DType::Float32:
    case DType::Int32: return 4;
    case DType::Float16:
    case DType::BFloat16:
    case DType::Int16: return 2;
    case DType::Int8:
    case DType::UInt8:
    case DType::Bool: return 1;
    }
    return 1;
}

std::string dtypeName(DType dtype)
{
    switch (dtype) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Float16: return "float16";
    case DType::BFloat16: return "bfloat16";
    case DType::Int8: return "int8";
    case DType::Int16: return "int16";
    case DType::Int32: return "int32";
    case DType::Int64: return "int64";
    case DType::UInt8: return "uint8";
    case DType::Bool: return "bool";
    }
    return "unknown";
}

std::int64_t Tensor::numel() const
{
    std::int64_t n = 1;
    for (auto d : shape)
        n *= d;
    return n;
}

Tensor Tensor::zeros(std::vector<std::int64_t> shape, DType dtype)
{
    Tensor t;
    t.shape = std::move(shape);
    t.dtype = dtype;
    const std::size_t bytes = t.nbytes();
    // calloc: large zero buffers come straight from fresh pages, no memset pass.
    void* buffer = std::calloc(bytes > 0 ? bytes : 1, 1);
    if (!buffer)
        throw std::bad_alloc();
    t.data = std::shared_ptr<const void>(buffer, [](const void* p) { std::free(const_cast<void*>(p)); });
    return t;
}

std::string shapeToString(const std::vector<std::int64_t>& shape)
{
    std::ostringstream out;
    out << '[';
    for (std::size_t i = 0; i < shape.size(); ++i)
        out << (i ? ", " : "") << shape[i];
    out << ']';
    return out.str();
}

} // namespace layerscope

#include "floatbits_p.h"
#include "layerscope/error.h"

namespace layerscope {

namespace {

// Calls visit(load) with a function that reads element i of the tensor as a number: float for the
// half-precision types (exactly), the element's own type otherwise.
template <typename Visit> void withLoader(const Tensor& tensor, Visit&& visit)
{
    switch (tensor.dtype) {
    case DType::Float32: visit([in = tensor.values<float>()](std::int64_t i) { return in[i]; }); return;
    case DType::Float64: visit([in = tensor.values<double>()](std::int64_t i) { return in[i]; }); return;
    case DType::Float16:
        visit([in = tensor.values<std::uint16_t>()](std::int64_t i) { return detail::halfToFloat(in[i]); });
        return;
    case DType::BFloat16:
        visit([in = tensor.values<std::uint16_t>()](std::int64_t i) { return detail::bfloat16ToFloat(in[i]); });
        return;
    case DType::Int8: visit([in = tensor.values<std::int8_t>()](std::int64_t i) { return in[i]; }); return;
    case DType::Int16: visit([in = tensor.values<std::int16_t>()](std::int64_t i) { return in[i]; }); return;
    case DType::Int32: visit([in = tensor.values<std::int32_t>()](std::int64_t i) { return in[i]; }); return;
    case DType::Int64: visit([in = tensor.values<std::int64_t>()](std::int64_t i) { return in[i]; }); return;
    case DType::UInt8: visit([in = tensor.values<std::uint8_t>()](std::int64_t i) { return in[i]; }); return;
    case DType::Bool: visit([in = tensor.values<bool>()](std::int64_t i) { return in[i]; }); return;
    }
}

// On the way to a half type: doubles and 64-bit integers rounded to odd (one rounding in all), the rest
// exactly (every float16, bfloat16 and integer of up to 24 bits is a float32).
template <typename From> float asFloat(From value)
{
    if constexpr (std::is_same_v<From,
                                 double> || std::is_same_v<From, std::int64_t> || std::is_same_v<From, std::int32_t>)
        return detail::roundedToOdd(static_cast<double>(value));
    else
        return static_cast<float>(value);
}

template <typename To, typename Convert> Tensor convertEach(const Tensor& tensor, DType to, Convert convert)
{
    Tensor result = Tensor::zeros(tensor.shape, to);
    To* out = static_cast<To*>(result.mutableData());
    const std::int64_t n = tensor.numel();
    withLoader(tensor, [&](auto load) {
        for (std::int64_t i = 0; i < n; ++i)
            out[i] = convert(load(i));
    });
    return result;
}

} // namespace

Tensor convertFloating(const Tensor& tensor, DType to)
{
    if (tensor.dtype == to)
        return tensor;
    switch (to) {
    case DType::Float32: return convertEach<float>(tensor, to, [](auto v) { return static_cast<float>(v); });
    case DType::Float64: return convertEach<double>(tensor, to, [](auto v) { return static_cast<double>(v); });
    case DType::Float16:
        return convertEach<std::uint16_t>(tensor, to, [](auto v) { return detail::floatToHalf(asFloat(v)); });
    case DType::BFloat16:
        return convertEach<std::uint16_t>(tensor, to, [](auto v) { return detail::floatToBfloat16(asFloat(v)); });
    default: break;
    }
    throw Error("cannot convert " + dtypeName(tensor.dtype) + " to " + dtypeName(to));
}

double valueAt(const Tensor& tensor, std::int64_t index)
{
    if (index < 0 || index >= tensor.numel())
        throw Error("element " + std::to_string(index) + " out of range for " + shapeToString(tensor.shape));
    double value = 0;
    withLoader(tensor, [&](auto load) { value = static_cast<double>(load(index)); });
    return value;
}

Tensor rowsOf(const Tensor& tensor, std::int64_t first, std::int64_t count)
{
    if (tensor.shape.empty() || first < 0 || count < 0 || first > tensor.shape[0] || count > tensor.shape[0] - first)
        throw Error("rows " + std::to_string(first) + ".." + std::to_string(first + count - 1) + " out of range for "
                    + shapeToString(tensor.shape));
    Tensor rows = tensor;
    rows.shape[0] = count;
    const std::size_t rowBytes = tensor.shape[0] > 0 ? tensor.nbytes() / std::size_t(tensor.shape[0]) : 0;
    rows.data = std::shared_ptr<const void>(
        tensor.data, static_cast<const char*>(tensor.data.get()) + std::size_t(first) * rowBytes);
    return rows;
}

Tensor sampleOf(const Tensor& tensor, std::int64_t sample)
{
    if (tensor.shape.empty() || sample < 0 || sample >= tensor.shape[0])
        throw Error("sample " + std::to_string(sample) + " out of range for " + shapeToString(tensor.shape));
    return rowsOf(tensor, sample, 1);
}

namespace {

template <typename T> Tensor copyToVector(const std::vector<T>& values, DType dtype)
{
    Tensor tensor = Tensor::zeros({std::int64_t(values.size())}, dtype);
    std::copy(values.begin(), values.end(), static_cast<T*>(tensor.mutableData()));
    return tensor;
}

} // namespace

Tensor vectorTensor(const std::vector<std::int64_t>& values) { return copyToVector(values, DType::Int64); }

Tensor vectorTensor(const std::vector<float>& values) { return copyToVector(values, DType::Float32); }

} // namespace layerscope
