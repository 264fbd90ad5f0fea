// From a click on a module in the tree to its picture on screen, in the real main window (offscreen):
// the tree's current index changes as a click changes it, and the view is repainted before the clock
// stops. Each case alternates with a neighbour 15 times; prints the median and the spread. Also the
// time from opening the model to the first picture. Goal: every median <= 50 ms.
//
//   QT_QPA_PLATFORM=offscreen bench_click_to_picture RESNET18.pt DENSENET121.pt IMAGE

#include "featuremapview.h"
#include "mainwindow.h"
#include "modulefilterproxy.h"
#include "moduletreemodel.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTreeView>

#include <algorithm>
#include <cstdio>

using namespace layerscope;

namespace {

void click(ui::MainWindow& window, const QString& module)
{
    const QModelIndex index = window.filterProxy()->mapFromSource(window.moduleModel()->indexOfModule(module));
    window.moduleView()->setCurrentIndex(index);
    window.repaint(); // the event loop's paint of this click, now
}

bool openAndWait(ui::MainWindow& window, const QString& model, const QString& image, double* seconds)
{
    QSignalSpy ran(&window, &ui::MainWindow::runReady);
    QElapsedTimer timer;
    timer.start();
    window.openModel(model, {image});
    if (!ran.wait(300000))
        return false;
    window.repaint();
    *seconds = timer.nsecsElapsed() / 1e9;
    return true;
}

} // namespace

int main(int argc, char** argv)
{
    QApplication app(argc, argv);
    if (argc < 4) {
        std::fprintf(stderr, "usage: bench_click_to_picture RESNET18.pt DENSENET121.pt IMAGE\n");
        return 2;
    }
    struct Case {
        const char* model;
        const char* name;
        QString module, neighbour;
    };
    const Case cases[] = {
        {argv[1], "resnet18", "layer1.0.conv1", "layer1.0.bn1"},
        {argv[1], "resnet18", "layer4", "layer3"},
        {argv[1], "resnet18", "fc", "avgpool"},
        {argv[2], "densenet121", "features.denseblock3.denselayer20.conv2", "features.denseblock3.denselayer20.conv1"},
        {argv[2], "densenet121", "classifier", "features.norm5"}};
    ui::MainWindow window;
    window.resize(1280, 720);
    window.show();
    QString open;
    for (const Case& c : cases) {
        if (open != c.model) {
            double seconds = 0;
            if (!openAndWait(window, c.model, argv[3], &seconds)) {
                std::fprintf(stderr, "%s did not run\n", c.model);
                return 1;
            }
            open = c.model;
            std::printf("%s: open to first picture %.2f s\n", c.name, seconds);
        }
        std::vector<double> times;
        for (int i = 0; i < 15; ++i) {
            click(window, c.neighbour);
            QElapsedTimer timer;
            timer.start();
            click(window, c.module);
            times.push_back(timer.nsecsElapsed() / 1e6);
        }
        std::sort(times.begin(), times.end());
        std::printf("%s %s: median %.1f ms (min %.1f, max %.1f) over %zu clicks (goal <= 50 ms)\n", c.name,
                    qPrintable(c.module), times[times.size() / 2], times.front(), times.back(), times.size());
    }
    return 0;
}
