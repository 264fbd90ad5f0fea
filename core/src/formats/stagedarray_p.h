#pragma once

#include "layerscope/tensor.h"

#include <string>
#include <vector>

namespace layerscope::detail {

// One capture being streamed to a .npy file in the staging folder: rows are appended, and the
// header, written with room to spare, is rewritten with the final row count by finish().
class StagedArray {
public:
    // Errors name `reportAs`, the output the user asked for, not the staging file.
    StagedArray(std::string name, std::string file, std::string reportAs, const Tensor& first);
    ~StagedArray();
    StagedArray(const StagedArray&) = delete;
    StagedArray& operator=(const StagedArray&) = delete;

    void append(const Tensor& rows); // throws layerscope::Error on a shape or dtype change, or a write error
    void finish();                   // final header; the file is then a valid .npy

    const std::string& name() const { return name_; }
    const std::string& file() const { return file_; }
    std::vector<std::int64_t> shape() const; // rows first
    DType dtype() const { return dtype_; }
    std::int64_t rows() const { return rows_; }
    std::size_t headerLength() const { return headerLength_; }
    std::size_t rowBytes() const;

private:
    std::string name_, file_, reportAs_;
    std::vector<std::int64_t> rowShape_;
    DType dtype_;
    std::int64_t rows_ = 0;
    std::size_t headerLength_ = 0;
    int fd_ = -1;
};

} // namespace layerscope::detail
