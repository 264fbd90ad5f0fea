#pragma once
// The engine's own tensor type: what crosses the torch firewall (see DESIGN.md).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace layerscope {

enum class DType { Float32, Float64, Float16, BFloat16, Int8, Int16, Int32, Int64, UInt8, Bool };

std::size_t elementSize(DType dtype);
std::string dtypeName(DType dtype); // "float32", "int64", ... as numpy spells them

// A dense, C-contiguous array. The buffer is shared and may alias LibTorch storage:
// copying a Tensor copies a reference, not the values.
struct Tensor {
    std::vector<std::int64_t> shape;
    DType dtype = DType::Float32;
    std::shared_ptr<const void> data;

    std::int64_t numel() const;
    std::size_t nbytes() const { return static_cast<std::size_t>(numel()) * elementSize(dtype); }
    template <typename T> const T* values() const { return static_cast<const T*>(data.get()); }

    // A tensor that owns a fresh zero-filled buffer.
    static Tensor zeros(std::vector<std::int64_t> shape, DType dtype);
    // Writable access for the owner of a fresh buffer (zeros(), readers).
    void* mutableData() const { return const_cast<void*>(data.get()); }
};

std::string shapeToString(const std::vector<std::int64_t>& shape); // "[1, 3, 224, 224]"

} // namespace layerscope

namespace layerscope {

// A tensor of any dtype as a floating one: float32, float64, float16 or bfloat16 (numpy arrays default
// to float64, models to float32, and half-precision models want their inputs in their own dtype).
// Rounding is to nearest even, once, as numpy and torch round. A non-floating target throws
// layerscope::Error.
Tensor convertFloating(const Tensor& tensor, DType to);

// Element `index` of the flattened tensor as a double, whatever its dtype (a hovered pixel). Throws
// layerscope::Error when out of range.
double valueAt(const Tensor& tensor, std::int64_t index);

// Rows [first, first + count) of an [N, ...] tensor, sharing its buffer: [count, ...]. Throws
// layerscope::Error when out of range. The one way to slice along the batch axis.
Tensor rowsOf(const Tensor& tensor, std::int64_t first, std::int64_t count);

// Sample `sample` of an [N, ...] tensor, sharing its buffer: [1, ...]. Throws layerscope::Error when out of range.
Tensor sampleOf(const Tensor& tensor, std::int64_t sample);

// A 1-D tensor holding a copy of `values` (int64 or float32).
Tensor vectorTensor(const std::vector<std::int64_t>& values);
Tensor vectorTensor(const std::vector<float>& values);

} // namespace layerscope
