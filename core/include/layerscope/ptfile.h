#pragma once
// torch.save archives of a dict of name to tensor, read without LibTorch or Python: the .pt files
// LayerScope writes (merge reads them back) and what torch.save({"name": tensor, ...}) writes.

#include "layerscope/npy.h"

#include <cstddef>
#include <string>
#include <vector>

namespace layerscope {

// The dict's tensors, C-contiguous, in the dict's order. The pickle inside is run by a machine that
// knows only what torch.save writes for tensors: any other call, a view outside its storage, a
// compressed or missing entry is refused. Throws layerscope::Error naming the file and the cause.
std::vector<NamedTensor> readPt(const std::string& path);
std::vector<NamedTensor> parsePt(const void* bytes, std::size_t size, const std::string& sourceName);

} // namespace layerscope
