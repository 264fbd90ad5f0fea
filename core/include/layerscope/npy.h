#pragma once
// NumPy's .npy and .npz formats, read and written exactly as numpy.load / numpy.save see them.

#include "layerscope/tensor.h"

#include <cstdint>
#include <string>
#include <vector>

namespace layerscope {

struct NamedTensor {
    std::string name;
    Tensor tensor;
};

// Reads a .npy file (format 1.0-3.0; little- or big-endian; C or Fortran order) into a C-contiguous
// tensor. Throws layerscope::Error naming the file and the cause.
Tensor readNpy(const std::string& path);
Tensor parseNpy(const void* bytes, std::size_t size, const std::string& sourceName);

// The .npy header (magic, version, dict, padding) for a C-ordered little-endian array. With
// totalLength, the padding makes the header exactly that long (so it can be rewritten in place
// once the number of rows is known); otherwise it is the shortest multiple of 64, as numpy writes.
std::string npyHeader(const std::vector<std::int64_t>& shape, DType dtype, std::size_t totalLength = 0);
inline std::string npyHeader(const Tensor& tensor) { return npyHeader(tensor.shape, tensor.dtype); }

// Writes atomically: a temporary file in the same folder, renamed into place when complete.
void writeNpy(const std::string& path, const Tensor& tensor);

// .npz: a zip of "<name>.npy" entries, stored uncompressed like numpy.savez. Names are kept as they
// are ("cnn.0", "fm:1", "enc[0]"); numpy.load(path)[name] finds each.
std::vector<NamedTensor> readNpz(const std::string& path);
void writeNpz(const std::string& path, const std::vector<NamedTensor>& tensors);

// Fails early, before long work, if `path` cannot be created: its folder is missing, not a folder,
// or not writable; or the path itself is a folder. Throws layerscope::Error.
void checkWritable(const std::string& path);

} // namespace layerscope
