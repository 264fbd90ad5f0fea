#include "formats/staging_p.h"

#include "formats/atomicfile_p.h"
#include "layerscope/error.h"
#include "layerscope/exporters.h"

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace layerscope::detail {

namespace fs = std::filesystem;

const char* const kStagingMarker = ".layerscope-staging";

namespace {

const char* const kPartial = ".partial-";

// ".NAME.partial-XXXXXX", as StagingFolder and AtomicFile name their staging.
bool looksLikeStaging(const std::string& name)
{
    const auto at = name.rfind(kPartial);
    return name.size() > 1 && name[0] == '.' && at != std::string::npos && at > 1
        && name.size() - at - std::char_traits<char>::length(kPartial) == 6;
}

// True when nobody holds the marker's lock: its writer is gone.
bool markerIsStale(const fs::path& marker)
{
    const int fd = ::open(marker.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return false;
    struct stat status { };
    const bool stale = ::fstat(fd, &status) == 0 && S_ISREG(status.st_mode) && ::flock(fd, LOCK_EX | LOCK_NB) == 0;
    ::close(fd); // releases the lock we may have taken
    return stale;
}

} // namespace

int removeStaleStaging(const std::string& folder)
{
    int removed = 0;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(folder.empty() ? "." : folder, ec)) {
        const std::string name = entry.path().filename().string();
        if (!looksLikeStaging(name) || entry.is_symlink(ec))
            continue;
        // A staging folder (CaptureWriter) carries a marker; a staged file (AtomicFile) is locked itself.
        const bool folder = entry.is_directory(ec);
        if (!markerIsStale(folder ? entry.path() / kStagingMarker : entry.path()))
            continue;
        if (fs::remove_all(entry.path(), ec) != static_cast<std::uintmax_t>(-1) && !ec)
            ++removed;
    }
    return removed;
}

StagingFolder::StagingFolder(const std::string& target)
{
    const fs::path output(target);
    const fs::path parent = output.parent_path().empty() ? fs::path(".") : output.parent_path();
    removeStaleStaging(parent.string());
    std::string pattern = (parent / ("." + output.filename().string() + kPartial + "XXXXXX")).string();
    if (!::mkdtemp(pattern.data()))
        throwWriteError(target, errno);
    path_ = pattern;
    // The marker gets its final name only once locked, so a concurrent cleaner never sees it unlocked.
    const std::string pending = path_ + "/" + kStagingMarker + ".new";
    markerFd_ = ::open(pending.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (markerFd_ < 0 || ::flock(markerFd_, LOCK_EX | LOCK_NB) != 0
        || std::rename(pending.c_str(), (path_ + "/" + kStagingMarker).c_str()) != 0) {
        const int error = errno;
        std::error_code ec;
        fs::remove_all(path_, ec);
        path_.clear();
        throwWriteError(target, error);
    }
}

bool removeStaleResumeState(const std::string& target)
{
    const fs::path state = resumeStatePathFor(target);
    std::error_code ec;
    if (!fs::is_directory(state, ec) || fs::is_symlink(state, ec) || !markerIsStale(state / kStagingMarker))
        return false;
    return fs::remove_all(state, ec) != static_cast<std::uintmax_t>(-1) && !ec;
}

StagingFolder::StagingFolder(const std::string& target, Resumable)
    : keep_(true)
{
    const fs::path output(target);
    const fs::path parent = output.parent_path().empty() ? fs::path(".") : output.parent_path();
    removeStaleStaging(parent.string());
    path_ = resumeStatePathFor(target);
    std::error_code ec;
    resumed_ = fs::is_directory(path_, ec) && !fs::is_symlink(path_, ec);
    if (!resumed_ && ::mkdir(path_.c_str(), 0700) != 0) {
        const int error = errno;
        path_.clear();
        throwWriteError(target, error);
    }
    const std::string marker = path_ + "/" + kStagingMarker;
    markerFd_ = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (markerFd_ < 0 || ::flock(markerFd_, LOCK_EX | LOCK_NB) != 0) {
        const int error = errno;
        path_.clear(); // never removed from here: it may be another run's
        if (error == EWOULDBLOCK)
            throw Error(target + ": another run is writing it (" + marker + " is locked); wait for it, or stop it");
        throwWriteError(target, error);
    }
}

StagingFolder::~StagingFolder()
{
    if (!path_.empty() && !keep_) {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    if (markerFd_ >= 0)
        ::close(markerFd_);
}

void StagingFolder::moveTo(const std::string& target)
{
    const std::string marker = path_ + "/" + kStagingMarker;
    ::unlink(marker.c_str());
    ::chmod(path_.c_str(), 0755);
    if (std::rename(path_.c_str(), target.c_str()) != 0)
        throwWriteError(target, errno);
    path_.clear();
}

} // namespace layerscope::detail
