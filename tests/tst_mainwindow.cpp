// The application's window on real widgets, offscreen: first launch, clicking modules, export,
// cancel, and a bad model file.

#include "activationplots.h"
#include "featuremapview.h"
#include "inputpanel.h"
#include "layerscope/model.h"
#include "layerscope/preprocessing.h"
#include "mainwindow.h"
#include "moduletreemodel.h"
#include "modulefilterproxy.h"
#include "outputpanel.h"
#include "testsupport.h"

#include <QListWidget>
#include <qcustomplot.h>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTreeView>
#include <QtTest>

using namespace layerscope;
using namespace layerscope::test;
using layerscope::ui::MainWindow;
using layerscope::ui::ModuleTreeModel;

namespace {

const QString kDemoDir = QStringLiteral(LAYERSCOPE_SOURCE_DIR "/resources/demo");

void select(MainWindow& window, const QString& module)
{
    const QModelIndex index = window.filterProxy()->mapFromSource(window.moduleModel()->indexOfModule(module));
    QVERIFY(index.isValid());
    window.moduleView()->setCurrentIndex(index);
}

} // namespace

class TestMainWindow : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }
    void firstLaunchShowsTheFirstConvolution();
    void clickingAModuleShowsItsActivation();
    void exportWritesWhatTheEngineComputes();
    void cancelStopsAFolderRun();
    void badModelShowsErrorAndKeepsTheOldModel();
    void folderInputStepsThroughImages();
    void sequencesAreDrawnAsHeatMaps();
    void viewExportsAsPngPdfAndSvg();
};

void TestMainWindow::viewExportsAsPngPdfAndSvg()
{
    QTemporaryDir out;
    MainWindow window;
    window.show();
    QSignalSpy ran(&window, &MainWindow::runReady);
    window.openDemo();
    QVERIFY(ran.wait(30000));
    QVERIFY(window.exportView(out.filePath("grid.png")));
    QImage grid(out.filePath("grid.png"));
    QCOMPARE(grid.size(), window.featureMapView()->gridImage().size());
    select(window, "classifier.1");
    const QList<QPair<QString, QByteArray>> files = {{"plot.png", "\x89PNG"}, {"plot.pdf", "%PDF"}, {"plot.svg", "<?xml"}};
    for (const auto& [name, magic] : files) {
        QVERIFY(window.exportView(out.filePath(name)));
        QFile file(out.filePath(name));
        QVERIFY(file.open(QIODevice::ReadOnly));
        QVERIFY2(file.read(5).startsWith(magic), qPrintable(name));
    }
    QVERIFY(!window.exportView(out.filePath("no/such/folder/plot.png")));
    QVERIFY(window.errorText().contains("cannot write"));
    QCOMPARE(QDir(out.path()).entryList(QDir::Files | QDir::Hidden).size(), 4); // no temporaries left
}

void TestMainWindow::sequencesAreDrawnAsHeatMaps()
{
    MainWindow window;
    window.show();
    QSignalSpy ran(&window, &MainWindow::runReady);
    const QString images = kDemoDir + "/images/";
    window.selectAfterFirstRun("encoder"); // TransformerEncoderLayer: [1, 2 tokens, 64]
    window.openModel(QString(LAYERSCOPE_EXAMPLES_DIR) + "/seed_nested.pt",
                     {images + "0000-ankle-boot.png", images + "0001-pullover.png"}, Preprocessing::gray(101));
    QVERIFY(ran.wait(30000));
    QVERIFY2(window.errorText().isEmpty(), qPrintable(window.errorText()));
    QCOMPARE(window.activationPlots()->histogramTotal(), std::int64_t(2 * 64));
    QCOMPARE(window.activationPlots()->detailPlot()->plottableCount(), 1); // the heat map
    select(window, "encoder.linear1"); // skipped by PyTorch's fast path in eval mode
    QVERIFY2(window.centralMessage().contains("did not run"), qPrintable(window.centralMessage()));
}

void TestMainWindow::folderInputStepsThroughImages()
{
    MainWindow window;
    window.show();
    QSignalSpy ran(&window, &MainWindow::runReady);
    window.openModel(kDemoDir + "/fashion_cnn.pt", {kDemoDir + "/images"});
    QVERIFY(ran.wait(30000));
    QListWidget* thumbnails = window.inputPanel()->thumbnails();
    QCOMPARE(thumbnails->count(), 10);
    QCOMPARE(window.outputPanel()->topClass(), QString("Ankle boot")); // labels.txt beside the model
    thumbnails->setCurrentRow(2); // 0002-trouser.png
    QVERIFY(ran.wait(30000));
    QCOMPARE(window.outputPanel()->topClass(), QString("Trouser"));
    QVERIFY(window.inputPanel()->inputs().first().endsWith("0002-trouser.png"));

    // Two quick steps: the first run's result arrives stale and is dropped; only the last is shown.
    ran.clear();
    thumbnails->setCurrentRow(3); // 0004-shirt.png
    thumbnails->setCurrentRow(4); // 0006-coat.png
    QVERIFY(ran.wait(30000));
    QTest::qWait(300);
    QCOMPARE(ran.count(), 1);
    QCOMPARE(window.outputPanel()->topClass(), QString("Coat"));
}

void TestMainWindow::firstLaunchShowsTheFirstConvolution()
{
    MainWindow window;
    window.show();
    QSignalSpy ran(&window, &MainWindow::runReady);
    window.openDemo();
    QVERIFY(ran.wait(30000));
    QCOMPARE(window.featureMapView()->tileCount(), 32); // features.0 is Conv2d(1, 32, 3)
    QCOMPARE(window.featureMapView()->activation().shape, std::vector<std::int64_t>({1, 32, 28, 28}));
    QCOMPARE(window.outputPanel()->topClass(), QString("Ankle boot")); // the first demo image
    QVERIFY(window.errorText().isEmpty());
}

void TestMainWindow::clickingAModuleShowsItsActivation()
{
    MainWindow window;
    window.show();
    QSignalSpy ran(&window, &MainWindow::runReady);
    window.openDemo();
    QVERIFY(ran.wait(30000));

    select(window, "features.4"); // Conv2d(32, 64, 3)
    QCOMPARE(window.featureMapView()->tileCount(), 64);

    select(window, "classifier.1"); // Linear(576, 128): a vector, drawn as a histogram and by index
    const ui::ActivationPlots* plots = window.activationPlots();
    QCOMPARE(plots->histogramTotal(), std::int64_t(128));
    QCOMPARE(int(plots->histogram().counts.size()), plots->bins());

    select(window, "classifier.3"); // Dropout: runs, returns its input
    QCOMPARE(plots->histogramTotal(), std::int64_t(128));
}

void TestMainWindow::exportWritesWhatTheEngineComputes()
{
    QTemporaryDir out;
    MainWindow window;
    window.show();
    QSignalSpy ran(&window, &MainWindow::runReady);
    window.openDemo();
    QVERIFY(ran.wait(30000));
    ModuleTreeModel* tree = window.moduleModel();
    tree->setData(tree->indexOfModule("features.8"), Qt::Checked, Qt::CheckStateRole);
    tree->setData(tree->indexOfModule("classifier"), Qt::Checked, Qt::CheckStateRole);

    QSignalSpy exported(&window, &MainWindow::exportFinished);
    const QString path = out.filePath("demo.npz");
    window.exportChecked(path);
    QVERIFY(exported.wait(30000));
    QVERIFY(window.errorText().isEmpty());

    // The same forward through the engine directly.
    const Model model = Model::load((kDemoDir + "/fashion_cnn.pt").toStdString());
    Tensor image = loadImage(window.inputPanel()->inputs().first().toStdString(), Preprocessing::gray(28));
    image.shape.insert(image.shape.begin(), 1);
    const RunResult expected = model.run({image}, {{"features.8", "classifier", "classifier.1", "classifier.4"}, {}});
    const auto written = readNpzAsMap(path.toStdString());
    QCOMPARE(written.size(), std::size_t(1 + 6 + 1)); // features.8; classifier and its 5 children; output
    for (const auto& capture : expected.captures)
        QCOMPARE(maxAbsDifference(written.at(capture.key), capture.tensor), 0.0);
    QVERIFY(QFile::exists(out.filePath("demo.manifest.json")));
}

void TestMainWindow::cancelStopsAFolderRun()
{
    QTemporaryDir out;
    QDir().mkpath(out.filePath("many"));
    const QStringList images = QDir(kDemoDir + "/images").entryList({"*.png"});
    for (int i = 0; i < 3000; ++i)
        QFile::copy(kDemoDir + "/images/" + images[i % images.size()], out.filePath(QString("many/%1.png").arg(i, 4, 10, QChar('0'))));

    MainWindow window;
    window.show();
    QSignalSpy ran(&window, &MainWindow::runReady);
    window.openDemo();
    QVERIFY(ran.wait(30000));
    window.moduleModel()->setData(window.moduleModel()->indexOfModule("features"), Qt::Checked, Qt::CheckStateRole);
    QSignalSpy exported(&window, &MainWindow::exportFinished);
    window.exportChecked(out.filePath("part.npz"), {out.filePath("many")});
    QTest::qWait(300);
    QVERIFY(window.isBusy());
    window.cancelWork();
    QVERIFY(exported.wait(30000));
    const QString summary = exported.first().first().toString();
    QVERIFY2(summary.startsWith("Cancelled"), qPrintable(summary));
    const auto written = readNpzAsMap(out.filePath("part.npz").toStdString());
    const std::int64_t rows = written.at("features").shape[0];
    QVERIFY2(rows > 0 && rows < 3000, qPrintable(QString::number(rows)));
    QVERIFY(!window.isBusy());
}

void TestMainWindow::badModelShowsErrorAndKeepsTheOldModel()
{
    MainWindow window;
    window.show();
    QSignalSpy ran(&window, &MainWindow::runReady);
    window.openDemo();
    QVERIFY(ran.wait(30000));
    const QString demo = window.currentModelPath();

    QSignalSpy errors(&window, &MainWindow::errorShown);
    window.openModel(QString(LAYERSCOPE_FIXTURES_DIR) + "/bad/state_dict.pt");
    QVERIFY(errors.wait(30000));
    QVERIFY2(window.errorText().contains("torch.save pickle"), qPrintable(window.errorText()));
    QVERIFY(!window.errorText().contains("Traceback"));
    QCOMPARE(window.currentModelPath(), demo);

    window.runNow(); // the demo still works
    QVERIFY(ran.wait(30000));
    select(window, "features.0");
    QCOMPARE(window.featureMapView()->tileCount(), 32);
}

QTEST_MAIN(TestMainWindow)
#include "tst_mainwindow.moc"
