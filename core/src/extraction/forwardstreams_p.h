#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace layerscope::detail {

// Runs whole forwards on several threads at once ("streams"), each with its share of the compute
// threads. On a few cores this is faster than every batch on all of them: a forward's OpenMP team
// meets at a barrier after each operator, and when the image decoder or the writer takes one of its
// cores, the rest of the team waits; a stream of its own only slows itself (README, Figures).
// With one stream the forward runs on the calling thread, at submit, as it always did.
class ForwardStreams {
public:
    ForwardStreams(int streams, int threadsPerStream);
    ~ForwardStreams(); // drops what has not started, waits for the forwards under way
    ForwardStreams(const ForwardStreams&) = delete;
    ForwardStreams& operator=(const ForwardStreams&) = delete;

    int count() const { return streams_; }
    // The forward's end (or its exception) arrives through the future; forwards start in the order
    // they were submitted.
    std::future<void> submit(std::function<void()> forward);

private:
    void work(int threadsPerStream);

    const int streams_;
    std::mutex mutex_;
    std::condition_variable queued_;
    std::deque<std::packaged_task<void()>> queue_;
    bool stopping_ = false;
    std::vector<std::thread> workers_;
};

} // namespace layerscope::detail
