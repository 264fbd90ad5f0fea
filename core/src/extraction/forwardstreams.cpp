#include "extraction/forwardstreams_p.h"

#include "layerscope/runtime.h"

#include <algorithm>

namespace layerscope::detail {

ForwardStreams::ForwardStreams(int streams, int threadsPerStream)
    : streams_(std::max(1, streams))
{
    if (streams_ == 1)
        return;
    for (int i = 0; i < streams_; ++i)
        workers_.emplace_back([this, threadsPerStream] { work(threadsPerStream); });
}

ForwardStreams::~ForwardStreams()
{
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
        queue_.clear(); // their futures report a broken promise to whoever still holds them
    }
    queued_.notify_all();
    for (auto& worker : workers_)
        worker.join();
}

std::future<void> ForwardStreams::submit(std::function<void()> forward)
{
    std::packaged_task<void()> task(std::move(forward));
    std::future<void> done = task.get_future();
    if (workers_.empty()) {
        task();
        return done;
    }
    {
        std::lock_guard<std::mutex> lock(mutex_);
        queue_.push_back(std::move(task));
    }
    queued_.notify_one();
    return done;
}

void ForwardStreams::work(int threadsPerStream)
{
    setComputeThreadsOfThisThread(threadsPerStream);
    for (;;) {
        std::packaged_task<void()> task;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            queued_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (stopping_)
                return;
            task = std::move(queue_.front());
            queue_.pop_front();
        }
        task();
    }
}

} // namespace layerscope::detail
