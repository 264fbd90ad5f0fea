// "Open Atlas" to the first channel's top-K patches on screen, for an atlas of 10,000 images
// (layer4-shaped captures [N, 512, 7, 7], K = 9, patches cut from real JPEGs with the imagenet preset).
// Prints the median and the spread over 15 openings. Goal: median <= 200 ms.
//
//     QT_QPA_PLATFORM=offscreen bench_atlas_open JPEG_FOLDER WORK_FOLDER

#include "atlasview.h"
#include "layerscope/atlas.h"
#include "layerscope/preprocessing.h"

#include <QApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QSignalSpy>

#include <algorithm>
#include <cstdio>
#include <random>

using namespace layerscope;

int main(int argc, char** argv)
{
    QApplication app(argc, argv);
    if (argc < 3) {
        std::fprintf(stderr, "usage: bench_atlas_open JPEG_FOLDER WORK_FOLDER\n");
        return 2;
    }
    const std::vector<std::string> photos = listImages(argv[1], false);
    if (photos.empty()) {
        std::fprintf(stderr, "no images in %s\n", argv[1]);
        return 2;
    }
    const std::int64_t images = 10000, batch = 100, channels = 512, side = 7;
    const std::string path = QDir(argv[2]).filePath("atlas-10000").toStdString();
    {
        AtlasInfo info;
        info.preprocessingJson = Preprocessing::imagenet().toJson();
        info.captures = {"layer4"};
        info.datasetRows = images;
        AtlasBuilder builder(path, info);
        std::mt19937 random(7);
        std::normal_distribution<float> normal;
        for (std::int64_t start = 0; start < images; start += batch) {
            Tensor capture = Tensor::zeros({batch, channels, side, side}, DType::Float32);
            auto* values = static_cast<float*>(capture.mutableData());
            for (std::int64_t i = 0; i < capture.numel(); ++i)
                values[i] = std::max(0.0f, normal(random));
            std::vector<std::int64_t> rows;
            std::vector<std::string> files;
            for (std::int64_t r = start; r < start + batch; ++r) {
                rows.push_back(r);
                files.push_back(photos[std::size_t(r) % photos.size()]);
            }
            builder.add(rows, files, {{"layer4", capture}}, Tensor());
        }
        builder.finish();
    }
    std::vector<double> times;
    for (int round = 0; round < 15; ++round) {
        ui::AtlasView view;
        view.resize(1000, 700);
        view.show();
        QSignalSpy shown(&view, &ui::AtlasView::patchesShown);
        QElapsedTimer timer;
        timer.start();
        view.openAtlas(QString::fromStdString(path));
        if (!shown.wait(30000)) {
            std::fprintf(stderr, "the patches never appeared\n");
            return 1;
        }
        QApplication::processEvents(); // the icons are painted
        times.push_back(double(timer.nsecsElapsed()) / 1e6);
    }
    std::sort(times.begin(), times.end());
    std::printf("open atlas (10,000 images, 512 channels) to first top-9 patches: median %.0f ms (min %.0f, max %.0f) "
                "over %zu openings (goal <= 200 ms)\n",
                times[times.size() / 2], times.front(), times.back(), times.size());
    return 0;
}
