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
    // An array a killed run staged (extract --resume): cut back to its first `rows` rows, appended from there.
    StagedArray(std::string name, std::string file, std::string reportAs, std::vector<std::int64_t> rowShape,
                DType dtype, std::int64_t rows);
    ~StagedArray();
    StagedArray(const StagedArray&) = delete;
    StagedArray& operator=(const StagedArray&) = delete;

    void append(const Tensor& rows); // throws layerscope::Error on a shape or dtype change, or a write error
    void finish();                   // final header; the file is then a valid .npy
    void sync();                     // the rows so far on disk (fdatasync), for a checkpoint

    const std::string& name() const { return name_; }
    const std::string& file() const { return file_; }
    std::vector<std::int64_t> shape() const; // rows first
    const std::vector<std::int64_t>& rowShape() const { return rowShape_; }
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
