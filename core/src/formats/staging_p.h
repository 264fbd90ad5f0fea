#pragma once

#include <string>

namespace layerscope::detail {

// An export is written into a hidden staging folder beside its output (".NAME.partial-XXXXXX") and
// renamed into place when complete. A run killed with SIGKILL cannot clean up, so each staging
// folder holds a marker file under an advisory lock (flock) that its process keeps while it lives;
// the kernel drops the lock when the process dies. A later run in the same folder takes the lock
// of every stale marker it finds and removes that folder: never a live run's, never a folder that
// is not LayerScope's own.
class StagingFolder {
public:
    // Removes stale staging beside `target`, then creates and locks a new staging folder.
    // Throws layerscope::Error naming `target` when the folder cannot be created.
    explicit StagingFolder(const std::string& target);
    // A resumable staging folder (extract --resume): ".NAME.resume" beside `target`, the same name for
    // every run, so a run started again finds what the killed one wrote. It is reused when it exists
    // and no living run holds it (else Error), and kept when the writer ends without keep(false).
    struct Resumable { };
    StagingFolder(const std::string& target, Resumable);
    ~StagingFolder(); // removes the folder and everything in it, unless it was moved into place
    StagingFolder(const StagingFolder&) = delete;
    StagingFolder& operator=(const StagingFolder&) = delete;

    const std::string& path() const { return path_; }
    // Renames the staging folder to `target` (without its marker); afterwards path() is empty.
    void moveTo(const std::string& target);
    bool resumed() const { return resumed_; } // a resumable folder that was there before
    void keep(bool keep) { keep_ = keep; }    // keep the folder when destroyed (resumable ones do)

private:
    std::string path_;
    int markerFd_ = -1;
    bool resumed_ = false, keep_ = false;
};

// The marker's name inside a staging folder.
extern const char* const kStagingMarker;

// Removes every staging folder in `folder` whose marker is not locked by a living process, and every
// staged file (AtomicFile) that no living process holds locked.
// Returns how many were removed. Never throws.
int removeStaleStaging(const std::string& folder);

// Removes the resume state (StagingFolder(target, Resumable)) that a killed run left beside `target`,
// unless a living run holds it. True when there was one to remove. Never throws.
bool removeStaleResumeState(const std::string& target);

} // namespace layerscope::detail
