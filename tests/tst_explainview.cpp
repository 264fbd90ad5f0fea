// The Explain tab on real widgets, offscreen: what it draws is the map Python computes on the eager
// model (tests/fixtures/cam_reference.py), for the sample, class and target the user picks; it
// computes only when shown, drops a cancelled map, and exports what numpy reads back.

#include "explainview.h"
#include "layerscope/npy.h"
#include "layerscope/statistics.h"
#include "mainwindow.h"
#include "outputpanel.h"
#include "testsupport.h"

#include <QComboBox>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QStandardPaths>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>

using namespace layerscope;
using namespace layerscope::test;
using layerscope::ui::ExplainView;
using layerscope::ui::MainWindow;

namespace {

// resnet18 (scripted) on its two fixture images, run and shown; the Explain tab not yet opened.
struct Opened {
    MainWindow window;
    std::map<std::string, Tensor> reference;
    explicit Opened(const QString& fixture = "resnet18_scripted", const QString& file = "model.pt")
        : reference(readNpzAsMap(fixturePath(fixture, "cam_reference.npz")))
    {
        window.show();
        QSignalSpy ran(&window, &MainWindow::runReady);
        window.openModel(QString::fromStdString(fixturePath(fixture, file)),
                         {QString::fromStdString(fixturePath(fixture, "input0.npy"))});
        ran.wait(60000);
    }
    ExplainView* view() const { return window.explainView(); }
};

// Waits for the map (the Explain tab's own signal), then returns it.
const Attribution* waitForMap(ExplainView* view)
{
    QSignalSpy finished(view, &ExplainView::finished);
    if (!view->isBusy() && view->attribution())
        return view->attribution();
    if (!finished.wait(60000))
        return nullptr;
    return view->attribution();
}

} // namespace

class TestExplainView : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }
    void showsGradCamOfTheShownSample();
    void modelOutputClickExplainsThatClass();
    void topThreeSideBySide();
    void cancelledMapNeverLands();
    void flatTargetSaysWhy();
    void exportsPngAndNpy();
    void onnxModelOffersEigenCamOnly();
};

// An ONNX model runs without gradients: the tab switches to EigenCAM, the other methods are
// disabled with the reason, and the map is the eager model's.
void TestExplainView::onnxModelOffersEigenCamOnly()
{
    Opened opened("onnx/resnet18_preserve", "model.onnx");
    ExplainView* view = opened.view();
    QSignalSpy finished(view, &ExplainView::finished);
    opened.window.showExplain();
    QVERIFY(finished.wait(60000));
    QCOMPARE(view->method(), QString("eigencam"));
    auto* methods = view->findChild<QComboBox*>("explainMethod");
    auto* items = qobject_cast<QStandardItemModel*>(methods->model());
    const int gradCam = methods->findData(QString("gradcam"));
    QVERIFY(!items->item(gradCam)->isEnabled());
    QVERIFY(items->item(gradCam)->toolTip().contains("ONNX"));
    QCOMPARE(view->target(), QString("layer4"));
    QVERIFY(relativeDifference(view->attribution()->cam, rowsOf(opened.reference.at("eigencam"), 0, 1)) <= 1e-4);
}

void TestExplainView::showsGradCamOfTheShownSample()
{
    Opened opened;
    ExplainView* view = opened.view();
    QVERIFY(!view->isBusy() && !view->attribution()); // a hidden tab costs no backward pass
    QSignalSpy finished(view, &ExplainView::finished);
    opened.window.showExplain();
    QVERIFY(finished.wait(60000));
    QCOMPARE(view->target(), QString("layer4")); // the last spatial stage before pooling
    QCOMPARE(view->method(), QString("gradcam"));
    view->setMethod("layer4"); // not a method (layerscope --explain refuses it): the current one stays
    QCOMPARE(view->method(), QString("gradcam"));
    QVERIFY(!view->isBusy());
    const Attribution* map = view->attribution();
    QVERIFY(map);
    const Tensor& expected = opened.reference.at("gradcam");
    QVERIFY(relativeDifference(map->cam, rowsOf(expected, 0, 1)) <= 1e-5);
    QCOMPARE(double(map->classes[0]), valuesAsDoubles(opened.reference.at("class"))[0]);
    QCOMPARE(view->panelCount(), 1);
    QCOMPARE(view->shownImage(0).size(), QSize(112, 112)); // the input's size, the map upsampled over it
    // No class names: the number once ("class 3, logit 1.25"), not "class 3 (class 3)".
    QVERIFY2(view->captions().value(0).startsWith(QString("class %1, logit ").arg(map->classes[0])),
             qPrintable(view->captions().value(0)));
    QStringList names;
    for (int c = 0; c < 1000; ++c)
        names << QString("name%1").arg(c);
    view->setLabels(names);

    opened.window.sampleBox()->setValue(1); // the second image
    QVERIFY(finished.wait(60000));
    QVERIFY(relativeDifference(view->attribution()->cam, rowsOf(expected, 1, 1)) <= 1e-5);
    const auto second = view->attribution()->classes[0];
    QVERIFY2(view->captions().value(0).startsWith(QString("name%1 (class %1), logit ").arg(second)),
             qPrintable(view->captions().value(0)));
}

void TestExplainView::modelOutputClickExplainsThatClass()
{
    Opened opened;
    auto* table = opened.window.outputPanel()->findChild<QTableWidget*>();
    QVERIFY(table && table->rowCount() == 5);
    const int second = table->item(1, 0)->data(Qt::UserRole).toInt();
    QSignalSpy finished(opened.view(), &ExplainView::finished);
    emit table->cellClicked(1, 0); // as a click on the second row
    QVERIFY(finished.wait(60000));
    QCOMPARE(opened.view()->attribution()->classes.front(), std::int64_t(second));
    // The same class through the library: its logit and map.
    const Model model = Model::load(fixturePath("resnet18_scripted", "model.pt"));
    AttributionRequest request;
    request.layer = "layer4";
    request.classes = {second};
    const Attribution expected
        = explain(model, {rowsOf(readNpy(fixturePath("resnet18_scripted", "input0.npy")), 0, 1)}, request);
    QVERIFY(relativeDifference(opened.view()->attribution()->cam, expected.cam) <= 1e-5);
    QVERIFY(std::abs(opened.view()->attribution()->scores[0] - expected.scores[0]) <= 1e-4);
}

void TestExplainView::topThreeSideBySide()
{
    Opened opened;
    opened.view()->setTopThree(true);
    opened.window.showExplain();
    const Attribution* map = waitForMap(opened.view());
    QVERIFY(map);
    QCOMPARE(opened.view()->panelCount(), 3);
    const RunResult run = Model::load(fixturePath("resnet18_scripted", "model.pt"))
                              .run({rowsOf(readNpy(fixturePath("resnet18_scripted", "input0.npy")), 0, 1)});
    std::vector<double> logits = valuesAsDoubles(run.outputs[0].tensor);
    for (int i = 0; i < 3; ++i) { // the three highest logits, in order
        const auto top = std::max_element(logits.begin(), logits.end()) - logits.begin();
        QCOMPARE(map->classes[std::size_t(i)], std::int64_t(top));
        logits[std::size_t(top)] = -1e30;
    }
    QVERIFY(relativeDifference(rowsOf(map->cam, 0, 1), rowsOf(opened.reference.at("gradcam"), 0, 1)) <= 1e-5);
}

// A cancelled computation never lands, not even when it finishes after the next one started.
void TestExplainView::cancelledMapNeverLands()
{
    Opened opened;
    opened.window.showExplain();
    QVERIFY(waitForMap(opened.view()));
    QSignalSpy finished(opened.view(), &ExplainView::finished);
    opened.view()->setMethod("smoothgrad"); // 26 passes
    QVERIFY(opened.view()->isBusy());
    opened.view()->cancel();
    QVERIFY(!opened.view()->isBusy());
    QCOMPARE(opened.view()->statusText(), QString("Cancelled"));
    opened.view()->setMethod("eigencam");
    QVERIFY(finished.wait(60000));
    QCOMPARE(finished.count(), 1);
    QCOMPARE(opened.view()->method(), QString("eigencam"));
    QVERIFY(relativeDifference(opened.view()->attribution()->cam, rowsOf(opened.reference.at("eigencam"), 0, 1))
            <= 1e-5);
}

void TestExplainView::flatTargetSaysWhy()
{
    Opened opened;
    opened.window.showExplain();
    QVERIFY(waitForMap(opened.view()));
    QSignalSpy failed(opened.view(), &ExplainView::failed);
    opened.view()->setTarget("fc");
    QVERIFY(failed.wait(60000));
    QVERIFY2(opened.view()->statusText().contains("needs [N, C, H, W]"), qPrintable(opened.view()->statusText()));
    QVERIFY(!opened.view()->isBusy());
}

void TestExplainView::exportsPngAndNpy()
{
    Opened opened;
    opened.view()->setTopThree(true);
    opened.window.showExplain();
    const Attribution* map = waitForMap(opened.view());
    QVERIFY(map);
    QTemporaryDir dir;
    QVERIFY(opened.window.exportView(dir.filePath("maps.npy"))); // the window's Export View, on this tab
    const Tensor maps = readNpy(dir.filePath("maps.npy").toStdString());
    QCOMPARE(shapeToString(maps.shape), std::string("[3, 4, 4]"));
    QCOMPARE(maxAbsDifference(maps, map->cam), 0.0);
    QVERIFY(opened.window.exportView(dir.filePath("maps.png")));
    const QImage sheet(dir.filePath("maps.png"));
    QVERIFY(sheet.width() >= 3 * 320 && sheet.height() >= 320); // three maps side by side, enlarged
    QVERIFY(!opened.window.exportView(dir.filePath("missing/maps.png")));
}

QTEST_MAIN(TestExplainView)
#include "tst_explainview.moc"
