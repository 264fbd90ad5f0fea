// Repeated calls in the window: the seed's two-input model runs `feature_model` on each input; both
// calls can be shown (the call selector, `--module feature_model:1`), and each equals Python's
// forward hooks. A mistyped module name is an error that names its neighbours.

#include "activationplots.h"
#include "callselector.h"
#include "featuremapview.h"
#include "inputpanel.h"
#include "layerscope/npy.h"
#include "mainwindow.h"
#include "testsupport.h"

#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

using namespace layerscope;
using namespace layerscope::test;
using layerscope::ui::MainWindow;

namespace {

QString fixture(const QString& file) { return QString::fromStdString(fixturePath("nested_scripted", file)); }

} // namespace

class TestCalls : public QObject {
    Q_OBJECT

private slots:
    void secondCallIsShownAndExact()
    {
        MainWindow window;
        window.show();
        QSignalSpy ran(&window, &MainWindow::runReady);
        window.selectAfterFirstRun("feature_model:1");
        window.openModel(fixture("model.pt"), {fixture("input0.npy"), fixture("input1.npy")});
        QVERIFY(ran.wait(60000));
        QCOMPARE(window.shownCapture(), QString("feature_model:1"));
        const auto reference = readNpzAsMap(fixturePath("nested_scripted", "reference.npz"));
        // [2, 64]: drawn as values; the plot holds exactly the second call's output.
        QCOMPARE(maxAbsDifference(window.activationPlots()->activation(), reference.at("feature_model:1")), 0.0);
        ui::CallSelector* calls = window.callSelector();
        QVERIFY(calls->isVisibleTo(&window));
        QCOMPARE(calls->count(), 3); // call 0, call 1, and the inputs on demand
        QCOMPARE(calls->currentData().toString(), QString("feature_model:1"));
        QCOMPARE(calls->currentText(), QString("call 1"));
        QCOMPARE(calls->itemText(2), QString("call 0, inputs"));

        // The header says what is on screen.
        QVERIFY2(window.viewHeader().contains("<b>feature_model:1</b>") && window.viewHeader().contains("call 1")
                     && window.viewHeader().contains("[2, 64] float32"),
                 qPrintable(window.viewHeader()));

        // A 4-D module is drawn once per click, not once for the sample and again for the activation.
        const int before = window.featureMapView()->redraws();
        window.showModule("feature_model.cnn.0");
        QCOMPARE(window.featureMapView()->redraws(), before + 1);
        QVERIFY(window.viewHeader().contains("[2, 16, 48, 48] float32"));
        // 16 tiles of 48x48 fill the view: wide enough for their channel numbers; not in a small view.
        QVERIFY(window.featureMapView()->tilesNumbered());
        ui::FeatureMapView small;
        small.resize(120, 120);
        small.show();
        small.setActivation(window.featureMapView()->activation(), 0);
        QVERIFY(!small.tilesNumbered());
        window.showModule("feature_model:1");

        emit calls->activated(0); // the first call, as a click in the selector
        QCOMPARE(window.shownCapture(), QString("feature_model"));
        QVERIFY(maxAbsDifference(window.activationPlots()->activation(), reference.at("feature_model")) <= 1e-5);
        QVERIFY(maxAbsDifference(reference.at("feature_model"), reference.at("feature_model:1"))
                > 1e-3); // two inputs, two outputs
    }

    void moduleInputsAreRecordedOnDemand()
    {
        MainWindow window;
        QSignalSpy ran(&window, &MainWindow::runReady);
        window.openModel(fixture("model.pt"), {fixture("input0.npy"), fixture("input1.npy")});
        QVERIFY(ran.wait(60000));
        window.showModule("head");
        ui::CallSelector* calls = window.callSelector();
        QCOMPARE(calls->itemData(calls->count() - 1).toString(), QString("head>in")); // offered, not yet recorded
        emit calls->activated(calls->count() - 1);
        QVERIFY(ran.wait(60000)); // one more run, with head's inputs
        QCOMPARE(window.shownCapture(), QString("head>in"));
        const auto reference = readNpzAsMap(fixturePath("nested_scripted", "reference_inputs.npz"));
        QVERIFY(maxAbsDifference(window.activationPlots()->activation(), reference.at("head>in")) <= 1e-5);
    }

    void aFailedRunGreysTheViewUntilTheNextSuccess()
    {
        MainWindow window;
        QSignalSpy ran(&window, &MainWindow::runReady);
        QSignalSpy errors(&window, &MainWindow::errorShown);
        window.openModel(fixture("model.pt"), {fixture("input0.npy"), fixture("input1.npy")});
        QVERIFY(ran.wait(60000));
        QVERIFY(!window.isViewStale());
        // An input the model cannot take: 10x10 where it needs 101x101.
        QTemporaryDir dir;
        const std::string small = dir.filePath("small.npy").toStdString();
        writeNpy(small, Tensor::zeros({2, 1, 10, 10}, DType::Float32));
        window.inputPanel()->setInputs({QString::fromStdString(small), fixture("input1.npy")});
        window.runNow();
        QVERIFY(errors.wait(60000));
        QVERIFY(window.isViewStale());
        QVERIFY(!window.errorText().isEmpty());
        window.inputPanel()->setInputs({fixture("input0.npy"), fixture("input1.npy")});
        window.runNow();
        QVERIFY(ran.wait(60000));
        QVERIFY(!window.isViewStale());
        QVERIFY(window.errorText().isEmpty()); // the red bar is gone with the success
    }

    void unknownModuleNamesItsNeighbours()
    {
        MainWindow window;
        QSignalSpy ran(&window, &MainWindow::runReady);
        QSignalSpy errors(&window, &MainWindow::errorShown);
        window.selectAfterFirstRun("feature_modle:1");
        window.openModel(fixture("model.pt"), {fixture("input0.npy"), fixture("input1.npy")});
        QVERIFY(ran.wait(60000));
        QVERIFY(!errors.isEmpty());
        const QString message = errors.last().at(0).toString();
        QVERIFY2(message.contains("no module 'feature_modle'") && message.contains("did you mean 'feature_model'"),
                 qPrintable(message));
        QCOMPARE(window.errorText(), message);
    }
};

QTEST_MAIN(TestCalls)
#include "tst_calls.moc"
