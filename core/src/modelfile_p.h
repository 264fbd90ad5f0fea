#pragma once

#include <string>

namespace layerscope::detail {

// Looks at a model file before LibTorch does, so the common mistakes get a clear message:
// missing or unreadable file, not a zip archive, truncated or corrupt archive, and a torch.save
// pickle (state_dict or eager nn.Module) instead of TorchScript. Throws layerscope::Error.
void checkModelFile(const std::string& path);

} // namespace layerscope::detail
