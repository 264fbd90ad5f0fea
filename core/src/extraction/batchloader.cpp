#include "extraction/batchloader_p.h"

#include "layerscope/error.h"

namespace layerscope::detail {

BatchLoader::BatchLoader(std::int64_t sampleCount, int batchSize, int threads, int batchesAhead, LoadFunction load)
    : count_(sampleCount)
    , batchSize_(batchSize)
    , batchesAhead_(batchesAhead)
    , load_(std::move(load))
    , slots_(static_cast<std::size_t>(sampleCount))
{
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
                return stopping_ || (nextToLoad_ < count_ && nextToLoad_ < nextToHand_ + std::int64_t(batchesAhead_) * batchSize_);
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
            slots_[static_cast<std::size_t>(index)] = std::move(sample);
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
        sampleReady_.wait(lock, [&] { return slots_[static_cast<std::size_t>(i)].has_value(); });
        batch.push_back(std::move(*slots_[static_cast<std::size_t>(i)]));
        slots_[static_cast<std::size_t>(i)].reset();
    }
    nextToHand_ = end;
    lock.unlock();
    workAvailable_.notify_all();
    return batch;
}

} // namespace layerscope::detail
