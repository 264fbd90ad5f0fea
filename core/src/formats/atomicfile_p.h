#pragma once

#include <cstddef>
#include <string>

namespace layerscope::detail {

// A file written under a temporary name in the destination folder and renamed over the final
// name by commit(). Destroyed without commit() (an error, a cancel), it removes the temporary file,
// so a failure never leaves a half-written file under the final name.
class AtomicFile {
public:
    explicit AtomicFile(std::string path); // throws layerscope::Error if the folder is not writable
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    void write(const void* data, std::size_t size); // throws layerscope::Error (disk full, ...)
    void commit();
    const std::string& temporaryPath() const { return temporaryPath_; }

private:
    std::string path_;
    std::string temporaryPath_;
    int fd_ = -1;
};

// "path: cannot write (No space left on device)"
[[noreturn]] void throwWriteError(const std::string& path, int error);

// write(2) until all is written (short writes, EINTR); errors name `reportAs`.
void writeFully(int fd, const void* data, std::size_t size, const std::string& reportAs);

// Replaces `path` with `text`, written beside, synced and renamed over it: a power cut leaves the old
// file or the new one (resume checkpoints). Errors name `reportAs`.
void replaceDurably(const std::string& path, const std::string& text, const std::string& reportAs);

} // namespace layerscope::detail
