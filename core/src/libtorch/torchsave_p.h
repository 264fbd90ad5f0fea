#pragma once
// The .pt format: declared without LibTorch so that the writers in formats/ can call it.

#include "layerscope/tensor.h"

#include <string>
#include <utility>
#include <vector>

namespace layerscope::detail {

// A dict of name to tensor in the format of torch.save, for torch.load in Python.
std::vector<char> pickleTensorDict(const std::vector<std::pair<std::string, Tensor>>& tensors);

} // namespace layerscope::detail
