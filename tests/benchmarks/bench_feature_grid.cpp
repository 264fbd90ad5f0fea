// From clicking a layer to its grid on screen: the feature-map view given a captured activation,
// rendered, converted and painted (offscreen). resnet18 (random weights) at 224x224, batch 1:
// layer1 (64 channels of 56x56) and layer4 (512 channels of 7x7). Median of 21 draws each.
//
//   QT_QPA_PLATFORM=offscreen bench_feature_grid [MODEL]

#include "featuremapview.h"
#include "layerscope/model.h"
#include "layerscope/runtime.h"

#include <QApplication>
#include <QElapsedTimer>

#include <algorithm>
#include <cstdio>
#include <random>

using namespace layerscope;

int main(int argc, char** argv)
{
    QApplication app(argc, argv);
    configureRuntime();
    const Model model = Model::load(argc > 1 ? argv[1] : LAYERSCOPE_RESNET18);
    Tensor input = Tensor::zeros({1, 3, 224, 224}, DType::Float32);
    std::mt19937 random(1);
    std::normal_distribution<float> normal;
    for (std::int64_t i = 0; i < input.numel(); ++i)
        static_cast<float*>(input.mutableData())[i] = normal(random);
    const RunResult result = model.run({input}, {{"layer1", "layer4"}, {}});

    ui::FeatureMapView view;
    view.resize(1000, 800);
    view.show();
    std::printf("%-8s %-18s %10s\n", "layer", "shape", "median ms");
    for (const Capture& capture : result.captures) {
        std::vector<double> times;
        for (int i = 0; i < 21; ++i) {
            view.clear();
            QElapsedTimer timer;
            timer.start();
            view.setActivation(capture.tensor);
            view.viewport()->repaint(); // paint now, as the click's event loop turn would
            times.push_back(timer.nsecsElapsed() / 1e6);
        }
        std::sort(times.begin(), times.end());
        std::printf("%-8s %-18s %10.1f   (%d tiles)\n", capture.key.c_str(),
                    shapeToString(capture.tensor.shape).c_str(), times[times.size() / 2], view.tileCount());
    }
    return 0;
}
