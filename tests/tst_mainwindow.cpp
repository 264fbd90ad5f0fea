// The application's window on real widgets, offscreen: first launch, clicking modules, export,
// cancel, and a bad model file.

#include "activationplots.h"
#include "featuremapview.h"
#include "inputpanel.h"
#include "layerscope/model.h"
#include "layerscope/preprocessing.h"
#include "mainwindow.h"
#include "modulefilterproxy.h"
#include "moduletreemodel.h"
#include "outputpanel.h"
#include "scaledimage.h"
#include "testsupport.h"

#include <QAbstractItemModelTester>
#include <QHeaderView>
#include <QLineEdit>
#include <QListWidget>
#include <QMessageBox>
#include <QProcess>
#include <QPushButton>
#include <QRegularExpression>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTreeView>
#include <QtTest>
#include <cstring>
#include <qcustomplot.h>

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
    void cancelBeforeTheExportStartsWritesNothing();
    void cancelDuringARunAndALoad();
    void supersededRunStopsEarly();
    void modelOutputFollowsTheSampleBox();
    void anotherModelReplacesEverythingOnScreen();
    void fitsASmallScreen();
    void commandLineMisuseIsOneLine();
    void treeColumnsFitAtTheDefaultWidth();
    void modelInputPreviewKeepsItsAspect();
    void ctrlEFromTheFilterBoxSaysWhatIsMissing();
    void badModelShowsErrorAndKeepsTheOldModel();
    void untrustedModelAsksBeforeOpening();
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
    // The grid in the format its extension names (a .svg used to hold PNG bytes), enlarged to at
    // least 48-pixel tiles, with a title above and a colour bar below.
    // The grid is encoded by a worker: the window stays responsive and says when the file is written.
    QSignalSpy saved(&window, &MainWindow::viewSaved);
    QVERIFY(window.exportView(out.filePath("grid.png")));
    QVERIFY(saved.count() == 1 || saved.wait(30000));
    QCOMPARE(saved.last(), QVariantList({out.filePath("grid.png"), true}));
    QImage grid(out.filePath("grid.png"));
    const QImage shown = window.featureMapView()->gridImage();
    QVERIFY2(
        grid.width() >= 2 * shown.width() && grid.height() >= 2 * shown.height() + 40,
        qPrintable(
            QString("%1x%2 from %3x%4").arg(grid.width()).arg(grid.height()).arg(shown.width()).arg(shown.height())));
    for (const auto& [name, magic] : QList<QPair<QString, QByteArray>> {{"grid.pdf", "%PDF"}, {"grid.svg", "<?xml"}}) {
        saved.clear();
        QVERIFY(window.exportView(out.filePath(name)));
        QVERIFY(saved.count() == 1 || saved.wait(30000));
        QCOMPARE(saved.last(), QVariantList({out.filePath(name), true}));
        QFile file(out.filePath(name));
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QByteArray bytes = file.readAll();
        QVERIFY2(bytes.startsWith(magic), qPrintable(name));
        if (name.endsWith("svg"))
            QVERIFY(bytes.contains("<image") && bytes.contains("features.0")); // tiles as an image, the module named
    }
    select(window, "classifier.1");
    const QList<QPair<QString, QByteArray>> files
        = {{"plot.png", "\x89PNG"}, {"plot.pdf", "%PDF"}, {"plot.svg", "<?xml"}};
    for (const auto& [name, magic] : files) {
        QVERIFY(window.exportView(out.filePath(name)));
        QFile file(out.filePath(name));
        QVERIFY(file.open(QIODevice::ReadOnly));
        QVERIFY2(file.read(5).startsWith(magic), qPrintable(name));
    }
    QVERIFY(!window.exportView(out.filePath("no/such/folder/plot.png")));
    QVERIFY(window.errorText().contains("cannot write"));
    select(window, "features.0"); // a grid that cannot be written says so when the worker is done
    saved.clear();
    QVERIFY(window.exportView(out.filePath("no/such/folder/grid.png")));
    QVERIFY(saved.count() == 1 || saved.wait(30000));
    QCOMPARE(saved.last(), QVariantList({out.filePath("no/such/folder/grid.png"), false}));
    QVERIFY(window.errorText().contains("grid.png: cannot write"));
    QCOMPARE(QDir(out.path()).entryList(QDir::Files | QDir::Hidden).size(), 6); // no temporaries left
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
    thumbnails->setCurrentRow(2);                                      // 0002-trouser.png
    QVERIFY(ran.wait(30000));
    QCOMPARE(window.outputPanel()->topClass(), QString("Trouser"));
    QVERIFY(window.inputPanel()->inputs().first().endsWith("0002-trouser.png"));

    // Two quick steps: the first run's result arrives stale and is dropped; only the last is shown.
    ran.clear();
    thumbnails->setCurrentRow(3); // 0004-shirt.png
    thumbnails->setCurrentRow(4); // 0006-coat.png
    QVERIFY(ran.wait(30000));
    QTRY_VERIFY_WITH_TIMEOUT(!window.isBusy(), 30000); // the superseded run has ended too
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
    QVERIFY(QFile::exists(out.filePath("demo.npz.manifest.json")));
    // The status names the data file, not its manifest.
    QVERIFY2(exported.first().first().toString().endsWith(path), qPrintable(exported.first().first().toString()));
}

namespace {

// A folder of `count` images: symbolic links to the demo's ten.
QString manyImages(const QTemporaryDir& dir, int count)
{
    const QString folder = dir.filePath("many");
    QDir().mkpath(folder);
    const QStringList images = QDir(kDemoDir + "/images").entryList({"*.png"});
    for (int i = 0; i < count; ++i)
        QFile::link(kDemoDir + "/images/" + images[i % images.size()],
                    folder + QString("/%1.png").arg(i, 4, 10, QChar('0')));
    return folder;
}

// Counts what the worker reports, on the test's thread.
struct WorkerEnds {
    int cancelled = 0, finishedRuns = 0;
    explicit WorkerEnds(MainWindow& window)
    {
        QObject::connect(
            window.engineWorker(), &ui::EngineWorker::cancelled, &window, [this](quint64) { ++cancelled; },
            Qt::QueuedConnection);
        QObject::connect(
            window.engineWorker(), &ui::EngineWorker::runFinished, &window, [this](quint64, auto) { ++finishedRuns; },
            Qt::QueuedConnection);
    }
};

} // namespace

// Esc while the export runs: it stops after the batch in progress and keeps the complete rows.
void TestMainWindow::cancelStopsAFolderRun()
{
    QTemporaryDir out;
    const QString folder = manyImages(out, 2000);
    MainWindow window;
    window.show();
    QSignalSpy ran(&window, &MainWindow::runReady);
    window.openDemo();
    QVERIFY(ran.wait(30000));
    window.moduleModel()->setData(window.moduleModel()->indexOfModule("features"), Qt::Checked, Qt::CheckStateRole);
    QSignalSpy exported(&window, &MainWindow::exportFinished);
    // Esc as soon as the first batches are through, as a user who sees the progress bar move.
    connect(window.jobTracker(), &ui::JobTracker::changed, &window, [&window] {
        if (window.jobTracker()->progressDone() >= 32)
            window.cancelWork();
    });
    window.exportChecked(out.filePath("part.npz"), {folder});
    QVERIFY(exported.wait(60000));
    const QString summary = exported.first().first().toString();
    QVERIFY2(summary.startsWith("Cancelled"), qPrintable(summary));
    const auto written = readNpzAsMap(out.filePath("part.npz").toStdString());
    const std::int64_t rows = written.at("features").shape[0];
    QVERIFY2(rows >= 32 && rows < 2000, qPrintable(QString::number(rows)));
    QVERIFY(!window.isBusy());
}

// The bug: one shared flag, reset when the export started, lost an Esc pressed while the export
// waited behind a forward. Now the export has its own token from the start.
void TestMainWindow::cancelBeforeTheExportStartsWritesNothing()
{
    QTemporaryDir out;
    const QString folder = manyImages(out, 400);
    MainWindow window;
    window.show();
    QSignalSpy ran(&window, &MainWindow::runReady);
    window.openDemo();
    QVERIFY(ran.wait(30000));
    window.moduleModel()->setData(window.moduleModel()->indexOfModule("features"), Qt::Checked, Qt::CheckStateRole);
    WorkerEnds ends(window);
    window.runNow();                                         // a forward first ...
    window.exportChecked(out.filePath("all.npz"), {folder}); // ... the export queued behind it
    window.cancelWork();                                     // Esc while it waits
    QTRY_VERIFY_WITH_TIMEOUT(!window.isBusy(), 60000);
    QTRY_VERIFY(ends.cancelled >= 1);
    QVERIFY(!QFile::exists(out.filePath("all.npz")));
    QVERIFY(!QFile::exists(out.filePath("all.npz.manifest.json")) && !QFile::exists(out.filePath("all.manifest.json")));
}

// Esc during a single forward stops it at the next module: no result arrives, the view keeps the
// previous run, and the status says so.
void TestMainWindow::cancelDuringARunAndALoad()
{
    MainWindow window;
    window.show();
    QSignalSpy ran(&window, &MainWindow::runReady);
    window.openModel(QString::fromStdString(fixturePath("resnet18_scripted", "model.pt")),
                     {QString::fromStdString(fixturePath("resnet18_scripted", "input0.npy"))});
    QVERIFY(ran.wait(60000));
    WorkerEnds ends(window);
    ran.clear();
    window.runNow();
    window.cancelWork();
    QTRY_VERIFY_WITH_TIMEOUT(!window.isBusy(), 60000);
    QTRY_COMPARE(ends.cancelled, 1);
    QCOMPARE(ran.count(), 0);
    QVERIFY2(window.statusText().startsWith("Cancelled"), qPrintable(window.statusText()));

    const QString previous = window.currentModelPath();
    window.openDemo();
    window.cancelWork(); // a load cannot be interrupted inside LibTorch: its result is dropped
    QTRY_VERIFY_WITH_TIMEOUT(!window.isBusy(), 60000);
    QTRY_COMPARE(ends.cancelled, 2);
    QCOMPARE(window.currentModelPath(), previous);
}

// A new run supersedes the one in progress: the old forward stops early instead of running to the
// end, and only the new result is shown.
void TestMainWindow::supersededRunStopsEarly()
{
    MainWindow window;
    window.show();
    QSignalSpy ran(&window, &MainWindow::runReady);
    window.openModel(QString::fromStdString(fixturePath("resnet18_scripted", "model.pt")),
                     {QString::fromStdString(fixturePath("resnet18_scripted", "input0.npy"))});
    QVERIFY(ran.wait(60000));
    WorkerEnds ends(window);
    ran.clear();
    window.runNow();
    window.runNow();
    QVERIFY(ran.wait(60000));
    QTRY_VERIFY_WITH_TIMEOUT(!window.isBusy(), 60000);
    QCOMPARE(ran.count(), 1);
    QTRY_COMPARE(ends.finishedRuns, 1); // the first forward never finished
    QTRY_COMPARE(ends.cancelled, 1);
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

// hostile/gui_from_file_setstate.pt creates and writes gui_from_file_setstate.written while it loads
// (in PyTorch itself, make_fixtures.py checks it). The window asks first, without blocking.
void TestMainWindow::untrustedModelAsksBeforeOpening()
{
    const QString evil = QString(LAYERSCOPE_FIXTURES_DIR) + "/hostile/gui_from_file_setstate.pt";
    const QString target = QString(LAYERSCOPE_FIXTURES_DIR) + "/hostile/gui_from_file_setstate.written";
    QFile::remove(target);
    MainWindow window;
    window.show();
    QSignalSpy ready(&window, &MainWindow::modelReady);
    window.openDemo();
    QVERIFY(ready.wait(30000));
    const QString demo = window.currentModelPath();

    // The question, once it shows: asked with open(), found here, answered by clicking.
    const auto question = [&window]() -> QPointer<QMessageBox> {
        QPointer<QMessageBox> box;
        const bool shown = QTest::qWaitFor(
            [&] {
                box = window.findChild<QMessageBox*>(QStringLiteral("untrustedModelBox"));
                return box && box->isVisible();
            },
            30000);
        return shown ? box : QPointer<QMessageBox>();
    };
    window.openModel(evil);
    QPointer<QMessageBox> box = question();
    QVERIFY(box);
    QVERIFY2(box->text().contains("calls torch.from_file in __setstate__")
                 && box->text().contains("Open it only if you trust its source"),
             qPrintable(box->text()));
    box->button(QMessageBox::Cancel)->click();
    QTRY_VERIFY(!box); // deleted on close
    QCOMPARE(window.currentModelPath(), demo);
    QVERIFY(!QFile::exists(target)); // nothing of the model ran
    QCOMPARE(ready.size(), 1);

    window.openModel(evil);
    box = question();
    QVERIFY(box);
    QPushButton* openAnyway = nullptr;
    for (QAbstractButton* button : box->buttons()) {
        if (button->text() == "Open Anyway")
            openAnyway = qobject_cast<QPushButton*>(button);
    }
    QVERIFY(openAnyway);
    openAnyway->click();
    QVERIFY(ready.wait(30000));
    QCOMPARE(window.currentModelPath(), QFileInfo(evil).absoluteFilePath());
    QVERIFY(QFile::exists(target)); // what opening it anyway allowed
    QFile::remove(target);
}

// The output panel showed sample 0's classes whichever sample was chosen. A batch of two demo
// images (an ankle boot and a trouser) as one .npy input.
void TestMainWindow::modelOutputFollowsTheSampleBox()
{
    QTemporaryDir dir;
    const QStringList images = QDir(kDemoDir + "/images").entryList({"*.png"});
    const Tensor boot = loadImage((kDemoDir + "/images/" + images[0]).toStdString(), Preprocessing::gray(28));
    const Tensor trouser = loadImage((kDemoDir + "/images/0002-trouser.png").toStdString(), Preprocessing::gray(28));
    Tensor batch = Tensor::zeros({2, 1, 28, 28}, DType::Float32);
    std::memcpy(batch.mutableData(), boot.data.get(), boot.nbytes());
    std::memcpy(static_cast<char*>(batch.mutableData()) + boot.nbytes(), trouser.data.get(), trouser.nbytes());
    const QString input = dir.filePath("two.npy");
    writeNpy(input.toStdString(), batch);

    MainWindow window;
    window.show();
    QSignalSpy ran(&window, &MainWindow::runReady);
    window.openModel(kDemoDir + "/fashion_cnn.pt", {input});
    QVERIFY(ran.wait(60000));
    QCOMPARE(window.outputPanel()->topClass(), QString("Ankle boot"));
    window.sampleBox()->setValue(1);
    QCOMPARE(window.outputPanel()->topClass(), QString("Trouser"));
}

// After resnet18's fc, opening another model showed "'fc' did not run in this forward" and kept the
// old statistics: now the new model's first convolution is shown, selected in the tree.
void TestMainWindow::anotherModelReplacesEverythingOnScreen()
{
    MainWindow window;
    window.show();
    QSignalSpy ran(&window, &MainWindow::runReady);
    window.openModel(QString::fromStdString(fixturePath("resnet18_scripted", "model.pt")),
                     {QString::fromStdString(fixturePath("resnet18_scripted", "input0.npy"))});
    QVERIFY(ran.wait(60000));
    select(window, "fc");
    QCOMPARE(window.activationPlots()->histogramTotal(), std::int64_t(1000));
    select(window, "avgpool"); // [2, 512, 1, 1]: a vector of 512 values, not 512 one-pixel tiles
    QVERIFY(window.activationPlots()->isVisible());
    QCOMPARE(window.activationPlots()->histogramTotal(), std::int64_t(512));

    window.openModel(QString::fromStdString(fixturePath("seed_cnn_scripted", "model.pt")),
                     {QString::fromStdString(fixturePath("seed_cnn_scripted", "input0.npy"))});
    QVERIFY(ran.wait(60000));
    QCOMPARE(window.moduleView()->currentIndex().data(ModuleTreeModel::QualifiedNameRole).toString(),
             QString("cnn.0.0"));
    QCOMPARE(window.featureMapView()->activation().shape, std::vector<std::int64_t>({2, 16, 97, 97}));
    QVERIFY(window.featureMapView()->isVisible());
    QVERIFY(window.errorText().isEmpty());
}

// layerscope MODEL --explain NOT_A_METHOD used to abort with an uncaught exception once the window ran.
void TestMainWindow::commandLineMisuseIsOneLine()
{
    QTemporaryDir runtime; // Qt warns on a line of its own without one
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    environment.insert("XDG_RUNTIME_DIR", runtime.path());
    QProcess gui;
    gui.setProcessEnvironment(environment);
    gui.start(LAYERSCOPE_GUI,
              {QString::fromStdString(fixturePath("seed_cnn_scripted", "model.pt")), "--explain", "layer4"});
    QVERIFY(gui.waitForFinished(60000));
    QCOMPARE(gui.exitStatus(), QProcess::NormalExit);
    QCOMPARE(gui.exitCode(), 2);
    // One line of ours (a platform may add warnings of its own, on lines of their own).
    const QStringList lines = QString(gui.readAllStandardError())
                                  .split('\n', Qt::SkipEmptyParts)
                                  .filter(QRegularExpression("^layerscope:"));
    QCOMPARE(lines.size(), 1);
    QVERIFY2(lines[0].startsWith("layerscope: --explain: unknown attribution method 'layer4': use one of gradcam"),
             qPrintable(lines[0]));
}

// Its minimum size was 1491x724: more than a 1280x720 screen.
void TestMainWindow::fitsASmallScreen()
{
    MainWindow window;
    window.show();
    QSignalSpy ran(&window, &MainWindow::runReady);
    window.openDemo();
    QVERIFY(ran.wait(30000));
    const QSize minimum = window.minimumSizeHint().expandedTo(window.minimumSize());
    QVERIFY2(minimum.width() <= 1280 && minimum.height() <= 720,
             qPrintable(QString("%1x%2").arg(minimum.width()).arg(minimum.height())));
    window.resize(1280, 720);
    QCOMPARE(window.size(), QSize(1280, 720));
}

// At first launch on 1280x720 every name of resnet18's deepest branch is whole, and its output shape
// and calls are in view (they were scrolled out of a 240-pixel dock).
void TestMainWindow::treeColumnsFitAtTheDefaultWidth()
{
    MainWindow window;
    window.resize(1280, 720);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    // The tree's models checked through a whole load, run, selection and check change.
    QAbstractItemModelTester treeTester(window.moduleModel(), QAbstractItemModelTester::FailureReportingMode::QtTest);
    QAbstractItemModelTester filterTester(window.filterProxy(), QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy ran(&window, &MainWindow::runReady);
    window.openModel(QString::fromStdString(fixturePath("resnet18_scripted", "model.pt")),
                     {QString(LAYERSCOPE_FIXTURES_DIR "/images/photo.jpg")}, Preprocessing::imagenet());
    QVERIFY(ran.wait(60000));
    select(window, "layer4.0.downsample.1"); // opens its branch, five levels deep
    QTreeView* tree = window.moduleView();
    QTRY_VERIFY(tree->isExpanded(tree->currentIndex().parent()));
    QHeaderView* header = tree->header();
    const QAbstractItemView* rows = tree; // the widest visible cell of a column (protected in QTreeView)
    QTRY_VERIFY(header->sectionSize(ModuleTreeModel::NameColumn)
                >= rows->sizeHintForColumn(ModuleTreeModel::NameColumn));
    QCOMPARE(header->visualIndex(ModuleTreeModel::NameColumn), 0);
    for (int column : {ModuleTreeModel::ShapeColumn, ModuleTreeModel::CallsColumn}) {
        const int right = header->sectionViewportPosition(column) + header->sectionSize(column);
        QVERIFY2(
            !header->isSectionHidden(column) && right <= tree->viewport()->width(),
            qPrintable(QString("column %1 ends at %2 of %3").arg(column).arg(right).arg(tree->viewport()->width())));
        QVERIFY(header->sectionSize(column) >= rows->sizeHintForColumn(column)); // "[1, 512, 7, 7]" whole
    }
    window.moduleModel()->setModuleChecked("layer4", true, true);
    window.moduleModel()->setCheckedModules({});
    QVERIFY(tree->isExpanded(tree->currentIndex().parent())); // unchecking keeps the tree as it was
}

// "As the model sees it" drew a 224x224 crop at 256x105 in a squeezed dock: the picture keeps the
// model input's aspect ratio, square or not, whatever room the dock leaves.
void TestMainWindow::modelInputPreviewKeepsItsAspect()
{
    MainWindow window;
    window.resize(1280, 720);
    window.show();
    QSignalSpy ran(&window, &MainWindow::runReady);
    Preprocessing wide = Preprocessing::imagenet();
    wide.resize = ResizeMode::Exact;
    wide.resizeWidth = 320, wide.resizeHeight = 160, wide.cropWidth = wide.cropHeight = 0;
    for (const auto& [preprocessing, aspect] : {std::pair {Preprocessing::imagenet(), 1.0}, std::pair {wide, 2.0}}) {
        window.openModel(QString::fromStdString(fixturePath("resnet18_scripted", "model.pt")),
                         {QString(LAYERSCOPE_FIXTURES_DIR "/images/photo.jpg")}, preprocessing);
        QVERIFY(ran.wait(60000));
        const auto* preview = window.findChild<const ui::ScaledImage*>("modelInputPreview");
        QVERIFY(preview);
        for (int height : {300, 120}) { // roomy, then squeezed
            const_cast<ui::ScaledImage*>(preview)->resize(240, height);
            const QRect drawn = preview->drawnRect();
            QVERIFY(!drawn.isEmpty() && preview->rect().contains(drawn));
            QVERIFY2(std::abs(double(drawn.width()) / drawn.height() - aspect) < 0.05,
                     qPrintable(QString("%1x%2").arg(drawn.width()).arg(drawn.height())));
        }
    }
}

// Ctrl+E did nothing in the filter box, and with nothing checked a file dialog opened first.
void TestMainWindow::ctrlEFromTheFilterBoxSaysWhatIsMissing()
{
    MainWindow window;
    window.show();
    QSignalSpy ran(&window, &MainWindow::runReady);
    window.openDemo();
    QVERIFY(ran.wait(30000));
    QApplication::setActiveWindow(&window);
    QVERIFY(QTest::qWaitForWindowActive(&window));
    auto* filter = window.findChild<QLineEdit*>("moduleFilter");
    QVERIFY(filter);
    filter->setFocus();
    QSignalSpy errors(&window, &MainWindow::errorShown);
    QTest::keyClick(filter, Qt::Key_E, Qt::ControlModifier);
    QCOMPARE(errors.count(), 1); // said at once: no dialog opened
    QVERIFY2(window.errorText().contains("check modules"), qPrintable(window.errorText()));
}

QTEST_MAIN(TestMainWindow)
#include "tst_mainwindow.moc"
