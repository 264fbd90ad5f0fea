// The views on their own, as a user looks at them: the channel dialog and the feature-map grid.

#include "activationplots.h"
#include "channeldialog.h"
#include "featuremapview.h"

#include <qcustomplot.h>

#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include <set>

using namespace layerscope;
using layerscope::ui::ActivationPlots;
using layerscope::ui::ChannelDialog;
using layerscope::ui::FeatureMapView;

class TestViews : public QObject {
    Q_OBJECT

private slots:
    void channelDialogFillsItsWindow();
    void channelDialogHoverNamesTheChannelAndPosition();
    void channelDialogSavesAtLeastTheInputSize();
    void overlayIsSmoothOverTheInput();
    void gridRefitsWhenTheWindowGrows();
    void histogramBarsAreWhole();
    void tokenHeatMapHasCellsTicksAndAValueUnderTheCursor();
    void vectorPlotShowsTheValueUnderTheCursor();
};

namespace {

// A layer4-like 7x7 map: value = y * 7 + x.
Tensor ramp(std::int64_t channels = 1, std::int64_t side = 7)
{
    Tensor t = Tensor::zeros({1, channels, side, side}, DType::Float32);
    auto* v = static_cast<float*>(t.mutableData());
    for (std::int64_t i = 0; i < t.numel(); ++i)
        v[i] = float(i % (side * side));
    return t;
}

QImage grayInput()
{
    QImage input(224, 224, QImage::Format_RGB888);
    input.fill(QColor(128, 128, 128));
    return input;
}

double shownWidth(FeatureMapView* view) { return view->mapFromScene(view->sceneRect()).boundingRect().width(); }

} // namespace

void TestViews::channelDialogFillsItsWindow()
{
    ChannelDialog dialog("layer4, channel 26", ramp(), 26, Colormap::Viridis, grayInput());
    dialog.show();
    QVERIFY(QTest::qWaitForWindowExposed(&dialog));
    const QSize viewport = dialog.view()->viewport()->size();
    // Before: about 25 px in an 800x700 window. Now the map fills the smaller side of its area.
    QVERIFY2(shownWidth(dialog.view()) >= 0.9 * std::min(viewport.width(), viewport.height()),
             qPrintable(QString::number(shownWidth(dialog.view()))));
}

void TestViews::channelDialogHoverNamesTheChannelAndPosition()
{
    ChannelDialog dialog("layer4, channel 26", ramp(), 26, Colormap::Viridis, grayInput());
    dialog.show();
    QVERIFY(QTest::qWaitForWindowExposed(&dialog));
    FeatureMapView* view = dialog.view();
    QSignalSpy hovered(view, &FeatureMapView::hovered);
    // The centre of value (x 5, y 2) on screen.
    const QPoint at = view->mapFromScene(QPointF(5.5, 2.5));
    QTest::mouseMove(view->viewport(), at);
    QVERIFY(!hovered.isEmpty());
    QCOMPARE(hovered.last().at(0).toString(), QString("channel 26, x 5, y 2: 19"));
    QVERIFY(view->tilesNumbered());
    QCOMPARE(view->tileLabel(0), QString("26")); // its number on the tile too, not 0

    // A bfloat16 model's map: the same value under the mouse (it said 0 for half precision).
    dialog.close();
    ChannelDialog half("layer4, channel 26", convertFloating(ramp(), DType::BFloat16), 26, Colormap::Viridis,
                       grayInput());
    half.show();
    QVERIFY(QTest::qWaitForWindowExposed(&half));
    QSignalSpy halfHovered(half.view(), &FeatureMapView::hovered);
    QTest::mouseMove(half.view()->viewport(), half.view()->mapFromScene(QPointF(4.5, 1.5))); // a move, not a stay
    QTest::mouseMove(half.view()->viewport(), half.view()->mapFromScene(QPointF(5.5, 2.5)));
    QVERIFY(!halfHovered.isEmpty());
    QCOMPARE(halfHovered.last().at(0).toString(), QString("channel 26, x 5, y 2: 19"));
}

void TestViews::channelDialogSavesAtLeastTheInputSize()
{
    QTemporaryDir dir;
    ChannelDialog dialog("layer4, channel 26", ramp(), 26, Colormap::Viridis, grayInput());
    const QString path = dir.filePath("channel26.png");
    QVERIFY(dialog.saveImage(path));
    const QImage saved(path);
    QVERIFY2(saved.width() >= 224 && saved.height() >= 224,
             qPrintable(QString("%1x%2").arg(saved.width()).arg(saved.height())));
    QCOMPARE(saved.width() % 7, 0); // whole pixels per value: sharp, as on screen
    // The colormap, not gray: the value 0 corner and the value 48 corner are viridis' ends.
    const QImage map = dialog.view()->gridImage();
    QCOMPARE(saved.pixelColor(0, 0), map.pixelColor(0, 0));
    QCOMPARE(saved.pixelColor(saved.width() - 1, saved.height() - 1), map.pixelColor(6, 6));
    QVERIFY(map.pixelColor(0, 0) != map.pixelColor(6, 6));
}

void TestViews::overlayIsSmoothOverTheInput()
{
    ChannelDialog dialog("layer4, channel 26", ramp(), 26, Colormap::Viridis, grayInput());
    const QImage overlay = dialog.overlayImage();
    QCOMPARE(overlay.size(), QSize(256, 256));
    std::set<QRgb> colours;
    for (int y = 0; y < overlay.height(); ++y)
        for (int x = 0; x < overlay.width(); ++x)
            colours.insert(overlay.pixel(x, y));
    // Nearest-neighbour blocks would give at most 49 colours over a uniform input.
    QVERIFY2(colours.size() > 200, qPrintable(QString::number(colours.size())));
}

void TestViews::gridRefitsWhenTheWindowGrows()
{
    FeatureMapView view;
    view.resize(300, 300);
    view.setActivation(ramp(16, 14));
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    const double before = shownWidth(&view);
    view.resize(900, 900);
    QTRY_VERIFY(shownWidth(&view) > 2 * before);
}

void TestViews::histogramBarsAreWhole()
{
    ActivationPlots plots;
    plots.setHistogramOnly(true);
    plots.setBins(8);
    plots.setActivation(ramp(), 0);
    const Histogram& h = plots.histogram();
    const QCPRange x = plots.histogramPlot()->xAxis->range();
    QVERIFY2(x.lower <= h.low - h.binWidth() / 2 && x.upper >= h.high + h.binWidth() / 2,
             qPrintable(QString("%1..%2 for bins over %3..%4").arg(x.lower).arg(x.upper).arg(h.low).arg(h.high)));
    const auto tallest = *std::max_element(h.counts.begin(), h.counts.end());
    QVERIFY(plots.histogramPlot()->yAxis->range().upper > double(tallest));
}

namespace {

// [1, T, D] tokens: value = t * 100 + d.
Tensor tokens(std::int64_t count, std::int64_t dim)
{
    Tensor t = Tensor::zeros({1, count, dim}, DType::Float32);
    auto* v = static_cast<float*>(t.mutableData());
    for (std::int64_t i = 0; i < count; ++i)
        for (std::int64_t d = 0; d < dim; ++d)
            v[i * dim + d] = float(i * 100 + d);
    return t;
}

void hoverPlotAt(QCustomPlot* plot, double x, double y)
{
    plot->replot();
    const QPoint at(int(plot->xAxis->coordToPixel(x)), int(plot->yAxis->coordToPixel(y)));
    QTest::mouseMove(plot, at);
}

} // namespace

void TestViews::tokenHeatMapHasCellsTicksAndAValueUnderTheCursor()
{
    ActivationPlots plots;
    plots.resize(600, 600);
    plots.setActivation(tokens(5, 12), 0);
    plots.show();
    QVERIFY(QTest::qWaitForWindowExposed(&plots));
    QCustomPlot* plot = plots.detailPlot();
    auto* map = qobject_cast<QCPColorMap*>(plot->plottable(0));
    QVERIFY(map);
    QVERIFY(!map->interpolate());
    QCOMPARE(plot->xAxis->range().lower, -0.5); // whole cells
    QCOMPARE(plot->yAxis->range().upper, 4.5);
    plot->replot();
    for (double tick : plot->yAxis->tickVector())
        QCOMPARE(tick, std::round(tick)); // tokens are counted: integer ticks
    QCOMPARE(map->colorScale()->axis()->label(), QString("value"));
    hoverPlotAt(plot, 7, 3);
    QCOMPARE(plots.cursorText(), QString("token 3, feature 7: 307"));
}

void TestViews::vectorPlotShowsTheValueUnderTheCursor()
{
    ActivationPlots plots;
    plots.resize(600, 600);
    Tensor vector = Tensor::zeros({2, 10}, DType::Float32);
    auto* v = static_cast<float*>(vector.mutableData());
    for (int i = 0; i < 20; ++i)
        v[i] = float(i) / 4;
    plots.setActivation(vector, 1);
    plots.show();
    QVERIFY(QTest::qWaitForWindowExposed(&plots));
    hoverPlotAt(plots.detailPlot(), 3, 3.5);
    QCOMPARE(plots.cursorText(), QString("index 3: 3.25")); // sample 1: (10 + 3) / 4
}

QTEST_MAIN(TestViews)
#include "tst_views.moc"
