#include "libtorch/torchsave_p.h"

#include "libtorch/torchbridge_p.h"

#include <torch/serialize.h>

namespace layerscope::detail {

std::vector<char> pickleTensorDict(const std::vector<std::pair<std::string, Tensor>>& tensors)
{
    c10::Dict<std::string, at::Tensor> dict;
    for (const auto& [name, tensor] : tensors)
        dict.insert(name, toAten(tensor));
    return torch::pickle_save(c10::IValue(dict));
}

} // namespace layerscope::detail
