#pragma once
// Background work of which only the newest request matters (a folder count, a projection, a channel's
// patches): each request takes a ticket, and a newer request, or the end of its owner, makes the older
// tickets stale. A task checks its ticket before it starts, between steps and before it posts back;
// the count is shared, so a ticket outlives its owner safely (a listing of a slow network folder).

#include <QThreadPool>

#include <atomic>
#include <memory>

namespace layerscope::ui {

class LatestRequest {
public:
    class Ticket {
    public:
        bool stale() const { return latest_->load() != id_; }

    private:
        friend class LatestRequest;
        Ticket(std::shared_ptr<const std::atomic<quint64>> latest, quint64 id)
            : latest_(std::move(latest))
            , id_(id)
        {
        }
        std::shared_ptr<const std::atomic<quint64>> latest_;
        quint64 id_;
    };

    LatestRequest() = default;
    LatestRequest(const LatestRequest&) = delete;
    LatestRequest& operator=(const LatestRequest&) = delete;
    ~LatestRequest() { ++*latest_; } // the owner is gone: nothing of its is still wanted

    Ticket next() { return Ticket(latest_, ++*latest_); }

private:
    std::shared_ptr<std::atomic<quint64>> latest_ = std::make_shared<std::atomic<quint64>>(0);
};

// A pool of its own for such work, so that it holds up nothing on the global pool. Never destroyed:
// exit does not wait for a task that may hang (a dead network share) or run long (a large PCA).
inline QThreadPool* detachedPool(int maxThreads)
{
    auto* pool = new QThreadPool;
    pool->setMaxThreadCount(maxThreads);
    return pool;
}

} // namespace layerscope::ui
