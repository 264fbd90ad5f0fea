#pragma once
// .pt output without LibTorch: the archive torch.save writes for a dict of name to tensor, its storages
// copied from the staged .npy files (libzip reads them as it writes), so that no capture is held in
// memory whatever its size. torch.load in Python and layerscope::readPt read it.

#include "formats/stagedarray_p.h"

#include <string>
#include <vector>

namespace layerscope::detail {

// The pickle of {name: tensor} as torch.save writes it (protocol 2, storages as persistent ids
// ('storage', torch.<Type>Storage, key, 'cpu', elements), key = the array's index).
std::string pickleTensorDictOf(const std::vector<const StagedArray*>& arrays);

// Writes `path` (a temporary file renamed over it when complete). Throws layerscope::Error.
void writePtFile(const std::string& path, const std::vector<const StagedArray*>& arrays);

} // namespace layerscope::detail
