#pragma once
// HDF5 output (.h5): one dataset per capture, named by its capture key, chunked along the sample
// axis (about 1 MiB a chunk) and extendable there, optionally gzip-compressed; the manifest as an
// attribute of the file. What h5py reads.

#include "formats/stagedarray_p.h"

#include <cstdint>
#include <string>
#include <vector>

namespace layerscope::detail {

// Copies the staged arrays into a new HDF5 file at `path` block by block (memory stays flat).
// `compression` 0 (none) to 9 (gzip level, with the shuffle filter). Throws layerscope::Error.
void writeHdf5File(const std::string& path, const std::vector<const StagedArray*>& arrays,
                   const std::string& manifestJson, int compression);

// The datasets `names` of an HDF5 file written by writeHdf5File (merge reads shards with it). A
// dataset of another type, or larger than `maxBytes`, is refused (a crafted file may declare any
// size). Throws layerscope::Error naming the file and dataset.
std::vector<Tensor> readHdf5Datasets(const std::string& path, const std::vector<std::string>& names,
                                     std::uint64_t maxBytes);

} // namespace layerscope::detail
