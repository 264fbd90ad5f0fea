// What the ONNX runtime costs: the same resnet18 (tests/benchmarks/make_resnet18_onnx.py) at batch 16,
// 224x224, through OpenCV DNN with nothing captured and with every module captured, and through
// LibTorch (TorchScript) with nothing and every module captured. Rounds interleave the four variants
// so a noisy neighbour slows them alike; medians, the spread (fastest..slowest) and ratios are printed.
//
//   bench_onnx MODEL.onnx MODEL.pt [--rounds N] [--batch N]

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

CaptureRequest everyModule(const Model& model)
{
    CaptureRequest request;
    for (const auto& m : model.modules())
        if (!m.name.empty() && m.hasForward && m.unavailable.empty())
            request.outputsOf.push_back(m.name);
    return request;
}

} // namespace

int main(int argc, char** argv)
{
    std::vector<std::string> paths;
    int rounds = 7, batch = 16;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--batch") && i + 1 < argc)
            batch = std::atoi(argv[++i]);
        else
            paths.push_back(argv[i]);
    }
    if (paths.size() != 2) {
        std::fprintf(stderr, "usage: bench_onnx MODEL.onnx MODEL.pt [--rounds N] [--batch N]\n");
        return 2;
    }
    configureRuntime();
    const Model onnx = Model::load(paths[0]);
    const Model torchScript = Model::load(paths[1]);

    const Tensor input = bench::randomImages(batch);

    struct Variant {
        const char* name;
        const Model* model;
        CaptureRequest request;
        std::vector<double> seconds;
        std::size_t captures = 0;
    };
    std::vector<Variant> variants = {
        {"LibTorch, nothing captured", &torchScript, {}, {}},
        {"LibTorch, every module", &torchScript, everyModule(torchScript), {}},
        {"OpenCV DNN, nothing captured", &onnx, {}, {}},
        {"OpenCV DNN, every module", &onnx, everyModule(onnx), {}},
    };
    std::printf("resnet18, input [%d, 3, 224, 224], %d threads, %d rounds after 2 warm-up rounds\n", batch,
                computeThreads(), rounds);
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
    std::printf("%-30s %10s %16s %9s %9s\n", "variant", "median ms", "spread ms", "captures", "vs first");
    double base = 0;
    for (auto& variant : variants) {
        std::sort(variant.seconds.begin(), variant.seconds.end());
        const double median = variant.seconds[variant.seconds.size() / 2];
        base = base > 0 ? base : median;
        std::printf("%-30s %10.1f %7.1f..%-7.1f %9zu %9.3f\n", variant.name, median * 1000,
                    variant.seconds.front() * 1000, variant.seconds.back() * 1000, variant.captures, median / base);
    }
    return 0;
}
