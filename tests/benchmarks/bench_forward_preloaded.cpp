// (a) of the extraction benchmark: the model's forward alone, on images decoded and preprocessed
// beforehand (imagenet preset), in batches, with nothing captured. Prints images per second.
// With --streams S, S threads each run whole batches on threads/S compute threads (as extraction
// does by default) instead of every batch on all of them.
//
//   bench_forward_preloaded MODEL JPEG_FOLDER [--batch-size N] [--threads N] [--streams S]

#include "layerscope/model.h"
#include "layerscope/preprocessing.h"
#include "layerscope/runtime.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

using namespace layerscope;

int main(int argc, char** argv)
{
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s MODEL JPEG_FOLDER [--batch-size N] [--threads N]\n", argv[0]);
        return 2;
    }
    int batchSize = 16, threads = 0, streams = 1;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--batch-size"))
            batchSize = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--threads"))
            threads = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--streams"))
            streams = std::max(1, std::atoi(argv[i + 1]));
    }
    configureRuntime(threads);
    LoadOptions plain;
    plain.instrument = false;
    const Model model = Model::load(argv[1], plain);

    const auto files = listImages(argv[2], false);
    std::vector<Tensor> batches;
    const auto decodeStart = std::chrono::steady_clock::now();
    for (std::size_t first = 0; first < files.size(); first += std::size_t(batchSize)) {
        const std::size_t count = std::min(files.size() - first, std::size_t(batchSize));
        Tensor batch = Tensor::zeros({std::int64_t(count), 3, 224, 224}, DType::Float32);
        for (std::size_t i = 0; i < count; ++i) {
            const Tensor image = loadImage(files[first + i], Preprocessing::imagenet());
            std::memcpy(static_cast<char*>(batch.mutableData()) + i * image.nbytes(), image.data.get(), image.nbytes());
        }
        batches.push_back(batch);
    }
    const double decodeSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - decodeStart).count();
    const int threadsPerStream = std::max(1, computeThreads() / streams);
    std::vector<std::thread> workers;
    std::atomic<std::size_t> nextBatch {0};
    std::atomic<int> warmedUp {0};
    std::chrono::steady_clock::time_point start;
    for (int s = 0; s < streams; ++s) {
        workers.emplace_back([&] {
            if (streams > 1)
                setComputeThreadsOfThisThread(threadsPerStream);
            // warm-up: the executor profiles and optimises the graph on first runs, oneDNN makes kernels
            model.run({batches[0]});
            model.run({batches[0]});
            if (++warmedUp == streams)
                start = std::chrono::steady_clock::now();
            while (warmedUp.load() < streams)
                std::this_thread::yield();
            for (std::size_t b = nextBatch++; b < batches.size(); b = nextBatch++)
                model.run({batches[b]});
        });
    }
    for (auto& worker : workers)
        worker.join();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%.1f images/s (%zu images in %.2f s, batch %d, %d threads in %d stream%s); decoding and "
                "preprocessing took %.2f ms an image on one thread\n",
                files.size() / seconds, files.size(), seconds, batchSize, computeThreads(), streams,
                streams > 1 ? "s" : "", 1000 * decodeSeconds / files.size());
    return 0;
}
