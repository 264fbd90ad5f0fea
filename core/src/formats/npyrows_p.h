#pragma once
// Rows of a .npy file read where they lie, without loading the array: merge streams shards with it.

#include "layerscope/tensor.h"

#include <cstdint>
#include <string>
#include <vector>

namespace layerscope::detail {

class NpyRowFile {
public:
    // Opens and checks the header as readNpy does. Throws layerscope::Error naming the file; also for an
    // array without a row axis (0-d) and for Fortran order, whose rows are not contiguous (readNpy reads it).
    explicit NpyRowFile(const std::string& path);
    ~NpyRowFile();
    NpyRowFile(const NpyRowFile&) = delete;
    NpyRowFile& operator=(const NpyRowFile&) = delete;

    const std::string& path() const { return path_; }
    const std::vector<std::int64_t>& shape() const { return shape_; } // rows first
    DType dtype() const { return dtype_; }
    std::int64_t rows() const { return shape_.front(); }
    std::size_t rowBytes() const { return rowBytes_; }

    // Rows [first, first + count), in native byte order, to `out` (count * rowBytes() bytes).
    void readRows(std::int64_t first, std::int64_t count, char* out) const;

    // Whether `path`'s header says Fortran order of more than one axis (NpyRowFile refuses those).
    static bool isFortranOrder(const std::string& path);

private:
    std::string path_;
    std::vector<std::int64_t> shape_;
    DType dtype_ = DType::Float32;
    bool bigEndian_ = false;
    std::size_t rowBytes_ = 0, payloadOffset_ = 0;
    int fd_ = -1;
};

} // namespace layerscope::detail
