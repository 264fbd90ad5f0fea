// What capture costs: resnet18 (random weights), 224x224, batch 16. The instrumented model's forward
// with nothing selected, with layer1..layer4 and avgpool selected, and with every module selected,
// each as a ratio to the uninstrumented model measured in the same run. Rounds interleave the four
// variants so that a noisy neighbour slows them alike; the medians are compared.
//
//   bench_capture_overhead [MODEL] [--rounds N] [--batch N] [--default-malloc]

#include "benchinputs.h"
#include "layerscope/model.h"
#include "layerscope/runtime.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using namespace layerscope;

namespace {

double median(std::vector<double> values)
{
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
}

} // namespace

int main(int argc, char** argv)
{
    std::string path = LAYERSCOPE_RESNET18;
    int rounds = 9, batch = 16;
    bool tuneMalloc = true;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--default-malloc"))
            tuneMalloc = false; // to see what keepFreedMemoryInProcess() is worth
        else if (!std::strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--batch") && i + 1 < argc)
            batch = std::atoi(argv[++i]);
        else
            path = argv[i];
    }
    if (tuneMalloc)
        keepFreedMemoryInProcess();
    setComputeThreads();

    LoadOptions plainOptions;
    plainOptions.instrument = false;
    const Model plain = Model::load(path, plainOptions);
    const Model instrumented = Model::load(path);

    const Tensor input = bench::randomImages(batch);

    CaptureRequest stages {{"layer1", "layer2", "layer3", "layer4", "avgpool"}, {}};
    CaptureRequest everything;
    for (const auto& m : instrumented.modules()) {
        if (!m.name.empty() && m.hasForward)
            everything.outputsOf.push_back(m.name);
    }

    struct Variant {
        const char* name;
        const Model* model;
        CaptureRequest request;
        std::vector<double> seconds;
        std::size_t captures = 0;
    };
    std::vector<Variant> variants = {
        {"uninstrumented", &plain, {}, {}},
        {"instrumented, nothing selected", &instrumented, {}, {}},
        {"layer1..layer4 + avgpool", &instrumented, stages, {}},
        {"every module", &instrumented, everything, {}},
    };

    std::printf("model %s, input [%d, 3, 224, 224], %d threads, %d rounds after 2 warm-up rounds, %s malloc\n",
                path.c_str(), batch, computeThreads(), rounds, tuneMalloc ? "tuned" : "default");
    for (int round = -2; round < rounds; ++round) {
        for (auto& variant : variants) {
            const auto start = std::chrono::steady_clock::now();
            const RunResult result = variant.model->run({input}, variant.request);
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            if (round >= 0)
                variant.seconds.push_back(seconds);
            variant.captures = result.captures.size();
        }
    }

    const double base = median(variants[0].seconds);
    std::printf("%-32s %10s %8s %9s %8s\n", "variant", "median ms", "ratio", "captures", "target");
    const char* targets[] = {"", "<= 1.01", "<= 1.03", "<= 1.25"};
    for (std::size_t i = 0; i < variants.size(); ++i) {
        const double m = median(variants[i].seconds);
        std::printf("%-32s %10.1f %8.3f %9zu %8s\n", variants[i].name, m * 1000, m / base, variants[i].captures,
                    targets[i]);
    }
    std::printf("images/s uninstrumented: %.1f\n", batch / base);
    return 0;
}
