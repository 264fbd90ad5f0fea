#include "layerscope/error.h"
#include "layerscope/model.h"

namespace layerscope {

namespace {

bool isFloating(DType dtype)
{
    return dtype == DType::Float32 || dtype == DType::Float64 || dtype == DType::Float16 || dtype == DType::BFloat16;
}

bool hasEmbedding(const Model& model)
{
    for (const auto& m : model.modules()) {
        if (m.typeName == "Embedding" || m.typeName == "EmbeddingBag")
            return true;
    }
    return false;
}

} // namespace

Tensor prepareArrayInput(const Model& model, const Tensor& tensor, const std::string& path)
{
    const DType want = model.parameterDType();
    if (isFloating(tensor.dtype))
        return tensor.dtype == want || !isFloating(want) ? tensor : convertFloating(tensor, want);
    // Integers are token ids for a model that embeds them (issue 8: they must arrive as they are).
    const int channels = model.imageChannelsHint();
    if (hasEmbedding(model) || channels == 0)
        return tensor;
    const auto& s = tensor.shape;
    const bool imageShaped = (s.size() == 4 && s[1] == channels) || (s.size() == 3 && s[0] == channels);
    if (!imageShaped)
        throw Error(path + ": " + dtypeName(tensor.dtype) + " values of shape " + shapeToString(s)
                    + ", but the model's "
                      "first convolution takes "
                    + dtypeName(want) + " images of " + std::to_string(channels) + " channels ([N, "
                    + std::to_string(channels) + ", H, W]); save the array as " + dtypeName(want) + " in that shape");
    return convertFloating(tensor, want); // pixels saved as integers: the values, as floating point
}

} // namespace layerscope
