// (a) of the extraction benchmark: the model's forward alone, on images decoded and preprocessed
// beforehand (imagenet preset), in batches, with nothing captured. Prints images per second.
//
//   bench_forward_preloaded MODEL JPEG_FOLDER [--batch-size N] [--threads N]

#include "layerscope/model.h"
#include "layerscope/preprocessing.h"
#include "layerscope/runtime.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using namespace layerscope;

int main(int argc, char** argv)
{
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s MODEL JPEG_FOLDER [--batch-size N] [--threads N]\n", argv[0]);
        return 2;
    }
    int batchSize = 16, threads = 0;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--batch-size"))
            batchSize = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--threads"))
            threads = std::atoi(argv[i + 1]);
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
    model.run({batches[0]}); // warm-up: the executor profiles and optimises the graph on first runs
    model.run({batches[0]});
    const auto start = std::chrono::steady_clock::now();
    for (const auto& batch : batches)
        model.run({batch});
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%.1f images/s (%zu images in %.2f s, batch %d, %d threads); decoding and preprocessing took "
                "%.2f ms an image on one thread\n",
                files.size() / seconds, files.size(), seconds, batchSize, computeThreads(),
                1000 * decodeSeconds / files.size());
    return 0;
}
