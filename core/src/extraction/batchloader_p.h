#pragma once

#include "layerscope/tensor.h"

#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace layerscope::detail {

// One sample: a tensor per forward argument, or the reason it could not be loaded.
struct LoadedSample {
    std::int64_t index = 0;
    std::vector<Tensor> tensors;
    std::string error;
};

// Loads samples on worker threads, a few batches ahead of the consumer, and hands them out batch by
// batch in order: decoding and preprocessing overlap the forward of the previous batch. The samples
// in flight live in a ring of (batchesAhead + 1) batches: memory does not grow with the data set.
class BatchLoader {
public:
    using LoadFunction = std::function<LoadedSample(std::int64_t index)>;

    BatchLoader(std::int64_t sampleCount, int batchSize, int threads, int batchesAhead, LoadFunction load);
    ~BatchLoader(); // stops and joins the workers

    // The next batch's samples in index order; empty when all were handed out.
    std::vector<LoadedSample> next();

private:
    void work();

    const std::int64_t count_;
    const int batchSize_;
    const int batchesAhead_;
    LoadFunction load_;
    std::mutex mutex_;
    std::condition_variable workAvailable_, sampleReady_;
    std::vector<std::optional<LoadedSample>> ring_; // sample i in ring_[i % ring_.size()]
    std::int64_t nextToLoad_ = 0;
    std::int64_t nextToHand_ = 0;
    bool stopping_ = false;
    std::vector<std::thread> workers_;
};

} // namespace layerscope::detail
