#include "formats/atomicfile_p.h"

#include "formats/staging_p.h"
#include "layerscope/error.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace layerscope::detail {

void throwWriteError(const std::string& path, int error)
{
    throw Error(path + ": cannot write (" + std::strerror(error) + ")");
}

AtomicFile::AtomicFile(std::string path)
    : path_(std::move(path))
{
    const std::filesystem::path target(path_);
    const auto folder = target.parent_path().empty() ? std::filesystem::path(".") : target.parent_path();
    std::string pattern = (folder / ("." + target.filename().string() + ".XXXXXX")).string();
    fd_ = ::mkstemp(pattern.data());
    if (fd_ < 0)
        throwWriteError(path_, errno);
    ::fchmod(fd_, 0644);
    // Locked, then given the staging name a later run may clean up once this process is gone
    // (see staging_p.h): a cleaner never sees it unlocked.
    const std::string suffix = pattern.substr(pattern.size() - 6);
    const std::string staged = (folder / ("." + target.filename().string() + ".partial-" + suffix)).string();
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0 || std::rename(pattern.c_str(), staged.c_str()) != 0) {
        const int error = errno;
        ::close(fd_);
        fd_ = -1;
        ::unlink(pattern.c_str());
        throwWriteError(path_, error);
    }
    temporaryPath_ = staged;
}

AtomicFile::~AtomicFile()
{
    if (fd_ >= 0)
        ::close(fd_);
    if (!temporaryPath_.empty())
        ::unlink(temporaryPath_.c_str());
}

void writeFully(int fd, const void* data, std::size_t size, const std::string& reportAs)
{
    const char* bytes = static_cast<const char*>(data);
    while (size > 0) {
        const ssize_t n = ::write(fd, bytes, size);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            throwWriteError(reportAs, errno);
        }
        bytes += n;
        size -= static_cast<std::size_t>(n);
    }
}

void replaceDurably(const std::string& path, const std::string& text, const std::string& reportAs)
{
    const std::string pending = path + ".new";
    const int fd = ::open(pending.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        throwWriteError(reportAs, errno);
    try {
        writeFully(fd, text.data(), text.size(), reportAs);
    } catch (...) {
        ::close(fd);
        throw;
    }
    const bool synced = ::fdatasync(fd) == 0;
    ::close(fd);
    if (!synced || std::rename(pending.c_str(), path.c_str()) != 0)
        throwWriteError(reportAs, errno);
}

void AtomicFile::write(const void* data, std::size_t size) { writeFully(fd_, data, size, path_); }

void AtomicFile::commit()
{
    // close() can report a full disk late (network and quota file systems).
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0)
        throwWriteError(path_, errno);
    if (std::rename(temporaryPath_.c_str(), path_.c_str()) != 0)
        throwWriteError(path_, errno);
    temporaryPath_.clear();
}

} // namespace layerscope::detail
