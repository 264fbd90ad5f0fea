#include "libtorch/torchbridge_p.h"

#include "layerscope/error.h"

namespace layerscope::detail {

at::ScalarType toScalarType(DType dtype)
{
    switch (dtype) {
    case DType::Float32: return at::kFloat;
    case DType::Float64: return at::kDouble;
    case DType::Float16: return at::kHalf;
    case DType::BFloat16: return at::kBFloat16;
    case DType::Int8: return at::kChar;
    case DType::Int16: return at::kShort;
    case DType::Int32: return at::kInt;
    case DType::Int64: return at::kLong;
    case DType::UInt8: return at::kByte;
    case DType::Bool: return at::kBool;
    }
    return at::kFloat;
}

bool fromScalarType(at::ScalarType type, DType* dtype)
{
    switch (type) {
    case at::kFloat: *dtype = DType::Float32; return true;
    case at::kDouble: *dtype = DType::Float64; return true;
    case at::kHalf: *dtype = DType::Float16; return true;
    case at::kBFloat16: *dtype = DType::BFloat16; return true;
    case at::kChar: *dtype = DType::Int8; return true;
    case at::kShort: *dtype = DType::Int16; return true;
    case at::kInt: *dtype = DType::Int32; return true;
    case at::kLong: *dtype = DType::Int64; return true;
    case at::kByte: *dtype = DType::UInt8; return true;
    case at::kBool: *dtype = DType::Bool; return true;
    default: return false;
    }
}

Tensor fromAten(const at::Tensor& contiguous)
{
    Tensor result;
    if (!fromScalarType(contiguous.scalar_type(), &result.dtype))
        throw Error(std::string("tensors of dtype ") + c10::toString(contiguous.scalar_type()) + " are not supported");
    TORCH_INTERNAL_ASSERT(contiguous.is_contiguous());
    result.shape.assign(contiguous.sizes().begin(), contiguous.sizes().end());
    auto keeper = std::make_shared<at::Tensor>(contiguous);
    result.data = std::shared_ptr<const void>(keeper, keeper->data_ptr());
    return result;
}

at::Tensor toAten(const Tensor& tensor)
{
    auto keeper = new std::shared_ptr<const void>(tensor.data);
    return at::from_blob(
        tensor.mutableData(), tensor.shape, [keeper](void*) { delete keeper; },
        at::TensorOptions().dtype(toScalarType(tensor.dtype)));
}

} // namespace layerscope::detail
