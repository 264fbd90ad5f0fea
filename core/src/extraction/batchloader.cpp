#include "extraction/batchloader_p.h"

#include "layerscope/error.h"

#include <algorithm>

namespace layerscope::detail {

BatchLoader::BatchLoader(std::int64_t sampleCount, int batchSize, int threads, int batchesAhead, LoadFunction load)
    : count_(sampleCount)
    , batchSize_(batchSize)
    , batchesAhead_(batchesAhead)
    , load_(std::move(load))
    , ring_(static_cast<std::size_t>(std::max(1, batchesAhead + 1) * std::max(1, batchSize)))
{
    // A worker loads sample i only while i < nextToHand_ + batchesAhead * batchSize, so sample i and
    // sample i + ring_.size() are never in the ring together.
    for (int i = 0; i < threads; ++i)
        workers_.emplace_back([this] { work(); });
}

BatchLoader::~BatchLoader()
{
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    workAvailable_.notify_all();
    for (auto& worker : workers_)
        worker.join();
}

void BatchLoader::work()
{
    for (;;) {
        std::int64_t index;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            // Stay within batchesAhead batches of the consumer, so memory stays flat.
            workAvailable_.wait(lock, [&] {
                return stopping_
                    || (nextToLoad_ < count_ && nextToLoad_ < nextToHand_ + std::int64_t(batchesAhead_) * batchSize_);
            });
            if (stopping_)
                return;
            index = nextToLoad_++;
        }
        LoadedSample sample;
        try {
            sample = load_(index);
        } catch (const Error& error) {
            sample.error = error.what();
        } catch (const std::exception& error) {
            sample.error = error.what();
        }
        sample.index = index;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            ring_[static_cast<std::size_t>(index) % ring_.size()] = std::move(sample);
        }
        sampleReady_.notify_all();
    }
}

std::vector<LoadedSample> BatchLoader::next()
{
    std::vector<LoadedSample> batch;
    std::unique_lock<std::mutex> lock(mutex_);
    const std::int64_t end = std::min(count_, nextToHand_ + batchSize_);
    for (std::int64_t i = nextToHand_; i < end; ++i) {
        auto& slot = ring_[static_cast<std::size_t>(i) % ring_.size()];
        sampleReady_.wait(lock, [&] { return slot.has_value(); });
        batch.push_back(std::move(*slot));
        slot.reset();
    }
    nextToHand_ = end;
    lock.unlock();
    workAvailable_.notify_all();
    return batch;
}

} // namespace layerscope::detail
