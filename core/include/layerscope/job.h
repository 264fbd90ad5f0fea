#pragma once
// Long work is a job (DESIGN.md, "Jobs and threads"): it carries its own cancel token, checked at
// safe points (between batches, between modules of a forward), and reports progress. Whoever
// started the job keeps a copy of the token to cancel exactly that job.

#include "layerscope/error.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace layerscope {

// Thrown by engine functions that stopped at a safe point because their job was cancelled.
class Cancelled : public Error {
public:
    Cancelled()
        : Error("cancelled")
    {
    }
};

// Copies share one flag. Cancelling is a store to an atomic: safe from any thread, at any time,
// also before the job starts (it then stops at its first check).
class CancelToken {
public:
    CancelToken()
        : flag_(std::make_shared<std::atomic<bool>>(false))
    {
    }
    void cancel() const { flag_->store(true); }
    bool cancelled() const { return flag_->load(std::memory_order_relaxed); }
    void throwIfCancelled() const
    {
        if (cancelled())
            throw Cancelled();
    }

private:
    std::shared_ptr<std::atomic<bool>> flag_;
};

struct JobProgress {
    std::int64_t done = 0;
    std::int64_t total = 0; // 0 when unknown
    std::string step;       // "loading model", "forward", "writing" ...
};

// What a long engine call accepts: an id for the caller's bookkeeping, the token, and where to
// report progress (called on the job's thread).
struct JobControl {
    std::uint64_t id = 0;
    CancelToken cancel;
    std::function<void(const JobProgress&)> progress;

    void report(std::int64_t done, std::int64_t total, const std::string& step) const
    {
        if (progress)
            progress({done, total, step});
    }
};

} // namespace layerscope
