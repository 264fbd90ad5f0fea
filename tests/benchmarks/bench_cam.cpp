// What Grad-CAM costs against the plain forward: resnet18 (random weights), 224x224, layer4, batch 1
// and 16. Rounds interleave the two so that a noisy neighbour slows them alike; medians and spread.
//
//   bench_cam [MODEL] [--rounds N]

#include "benchinputs.h"
#include "layerscope/attribution.h"
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

template <typename Action> double millisecondsOf(Action&& action)
{
    const auto start = std::chrono::steady_clock::now();
    action();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

} // namespace

int main(int argc, char** argv)
{
    std::string path = LAYERSCOPE_RESNET18;
    int rounds = 9;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = std::atoi(argv[++i]);
        else
            path = argv[i];
    }
    keepFreedMemoryInProcess();
    setComputeThreads();
    const Model model = Model::load(path);
    AttributionRequest request;
    request.layer = "layer4";
    for (int batch : {1, 16}) {
        const Tensor input = bench::randomImages(batch);
        model.run({input}); // warm-up: the profiling executor specialises on the first runs
        explain(model, {input}, request);
        std::vector<double> forward, cam;
        for (int r = 0; r < rounds; ++r) {
            forward.push_back(millisecondsOf([&] { model.run({input}); }));
            cam.push_back(millisecondsOf([&] { explain(model, {input}, request); }));
        }
        const auto [fmin, fmax] = std::minmax_element(forward.begin(), forward.end());
        const auto [cmin, cmax] = std::minmax_element(cam.begin(), cam.end());
        std::printf("gradcam resnet18 layer4, batch %d: forward median %.1f ms (%.1f-%.1f), gradcam median %.1f ms "
                    "(%.1f-%.1f), %.2fx the forward\n",
                    batch, median(forward), *fmin, *fmax, median(cam), *cmin, *cmax, median(cam) / median(forward));
    }
}
