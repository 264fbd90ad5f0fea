#include "formats/stagedarray_p.h"

#include "formats/atomicfile_p.h"
#include "layerscope/error.h"
#include "layerscope/npy.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace layerscope::detail {

StagedArray::StagedArray(std::string name, std::string file, std::string reportAs, const Tensor& first)
    : name_(std::move(name))
    , file_(std::move(file))
    , reportAs_(std::move(reportAs))
    , rowShape_(first.shape.empty() ? std::vector<std::int64_t> {}
                                    : std::vector<std::int64_t>(first.shape.begin() + 1, first.shape.end()))
    , dtype_(first.dtype)
{
    if (first.shape.empty())
        throw Error("capture '" + name_ + "' is a scalar; it has no rows to append");
    fd_ = ::open(file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0)
        throwWriteError(reportAs_, errno);
    // Room for any row count: the header of a shape whose first dimension has 15 digits.
    std::vector<std::int64_t> widest = first.shape;
    widest[0] = 999999999999999;
    const std::string header = npyHeader(widest, dtype_);
    headerLength_ = header.size();
    writeFully(fd_, header.data(), header.size(), reportAs_);
}

StagedArray::StagedArray(std::string name, std::string file, std::string reportAs, std::vector<std::int64_t> rowShape,
                         DType dtype, std::int64_t rows)
    : name_(std::move(name))
    , file_(std::move(file))
    , reportAs_(std::move(reportAs))
    , rowShape_(std::move(rowShape))
    , dtype_(dtype)
    , rows_(rows)
{
    std::vector<std::int64_t> widest {999999999999999};
    widest.insert(widest.end(), rowShape_.begin(), rowShape_.end());
    headerLength_ = npyHeader(widest, dtype_).size();
    const std::string damaged = reportAs_ + ": the resume state is damaged (" + file_;
    fd_ = ::open(file_.c_str(), O_WRONLY | O_CLOEXEC);
    struct stat status { };
    if (fd_ < 0 || ::fstat(fd_, &status) != 0) {
        const int error = errno;
        throw Error(damaged + ": " + std::strerror(error) + ")");
    }
    // Rows the file holds, counted without overflow: a checkpoint's count must not exceed them.
    const std::size_t size = std::size_t(status.st_size), row = rowBytes();
    const std::size_t held = row == 0 ? SIZE_MAX : size < headerLength_ ? 0 : (size - headerLength_) / row;
    if (rows_ < 0 || std::uint64_t(rows_) > held) {
        ::close(fd_);
        fd_ = -1;
        throw Error(damaged + " holds fewer rows than its checkpoint)");
    }
    const off_t kept = off_t(headerLength_ + std::size_t(rows_) * rowBytes());
    if (::ftruncate(fd_, kept) != 0 || ::lseek(fd_, kept, SEEK_SET) != kept) {
        const int error = errno;
        ::close(fd_);
        fd_ = -1;
        throwWriteError(reportAs_, error);
    }
}

void StagedArray::sync()
{
    if (fd_ >= 0 && ::fdatasync(fd_) != 0)
        throwWriteError(reportAs_, errno);
}

StagedArray::~StagedArray()
{
    if (fd_ >= 0)
        ::close(fd_);
}

std::vector<std::int64_t> StagedArray::shape() const
{
    std::vector<std::int64_t> shape {rows_};
    shape.insert(shape.end(), rowShape_.begin(), rowShape_.end());
    return shape;
}

std::size_t StagedArray::rowBytes() const
{
    std::size_t bytes = elementSize(dtype_);
    for (auto d : rowShape_)
        bytes *= static_cast<std::size_t>(d);
    return bytes;
}

void StagedArray::append(const Tensor& rows)
{
    if (rows.dtype != dtype_ || rows.shape.empty()
        || std::vector<std::int64_t>(rows.shape.begin() + 1, rows.shape.end()) != rowShape_) {
        std::vector<std::int64_t> expected {-1};
        expected.insert(expected.end(), rowShape_.begin(), rowShape_.end());
        throw Error("capture '" + name_ + "' changed from " + dtypeName(dtype_) + " " + shapeToString(expected) + " to "
                    + dtypeName(rows.dtype) + " " + shapeToString(rows.shape)
                    + " between batches; rows of different shapes cannot be stacked (resize the inputs)");
    }
    writeFully(fd_, rows.data.get(), rows.nbytes(), reportAs_);
    rows_ += rows.shape[0];
}

void StagedArray::finish()
{
    const std::string header = npyHeader(shape(), dtype_, headerLength_);
    if (::pwrite(fd_, header.data(), header.size(), 0) != static_cast<ssize_t>(header.size()))
        throwWriteError(reportAs_, errno);
    if (::close(fd_) != 0) {
        fd_ = -1;
        throwWriteError(reportAs_, errno);
    }
    fd_ = -1;
}

std::vector<std::string> matlabVariableNames(const std::vector<std::string>& names)
{
    std::vector<std::string> result;
    for (const auto& name : names) {
        std::string variable;
        for (char c : name)
            variable += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
        while (variable.size() > 1 && variable.back() == '_')
            variable.pop_back();
        if (variable.empty() || !std::isalpha(static_cast<unsigned char>(variable[0])))
            variable = "x" + variable;
        variable = variable.substr(0, 63);
        std::string unique = variable;
        for (int i = 2; std::find(result.begin(), result.end(), unique) != result.end(); ++i) {
            const std::string suffix = "_" + std::to_string(i);
            unique = variable.substr(0, 63 - suffix.size()) + suffix;
        }
        result.push_back(unique);
    }
    return result;
}

} // namespace layerscope::detail
