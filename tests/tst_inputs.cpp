// The Inputs dock and what it starts, on real widgets offscreen: the size a fixed-size model takes
// offered after a failed run, spin boxes that run once per finished edit, folder thumbnails decoded
// off the GUI thread, and folder exports (one folder per forward argument, the size estimate).

#include "exportfolderdialog.h"
#include "inputpanel.h"
#include "jobtracker.h"
#include "mainwindow.h"
#include "modelsettings.h"
#include "moduletreemodel.h"
#include "notrunreason.h"
#include "preprocessingeditor.h"
#include "thumbnailloader.h"

#include "layerscope/error.h"
#include "layerscope/extraction.h"
#include "layerscope/model.h"
#include "layerscope/preprocessing.h"
#include "layerscope/runtime.h"
#include "testsupport.h"

#include <QAction>
#include <QDialogButtonBox>
#include <QElapsedTimer>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QRandomGenerator>
#include <QSettings>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTimer>
#include <QtTest>

using namespace layerscope;
using namespace layerscope::test;
using layerscope::ui::ExportFolderDialog;
using layerscope::ui::InputPanel;
using layerscope::ui::MainWindow;
using layerscope::ui::PreprocessingEditor;
using layerscope::ui::ThumbnailLoader;

namespace {

QString writeImage(const QString& path, int width, int height, bool noise)
{
    QImage image(width, height, QImage::Format_RGB888);
    QRandomGenerator random(width * 31 + height);
    for (int y = 0; y < height; ++y) {
        uchar* line = image.scanLine(y);
        for (int x = 0; x < 3 * width; ++x)
            line[x] = noise ? uchar(random.bounded(256)) : uchar((x / 3 + y) % 256);
    }
    if (!image.save(path))
        qFatal("cannot write %s", qPrintable(path));
    return path;
}

QAction* folderExportAction(MainWindow& window)
{
    for (QAction* action : window.findChildren<QAction*>()) {
        if (action->text().contains("for a &Folder"))
            return action;
    }
    return nullptr;
}

// Row `row` of a batch-first tensor, as a batch of one.
Tensor rowOf(const Tensor& tensor, std::int64_t row)
{
    Tensor one = tensor;
    one.shape[0] = 1;
    const std::size_t bytes = one.nbytes();
    one.data = std::shared_ptr<const void>(tensor.data,
                                           static_cast<const char*>(tensor.data.get()) + std::size_t(row) * bytes);
    return one;
}

const QString kDemoDir = QStringLiteral(LAYERSCOPE_SOURCE_DIR "/resources/demo");

} // namespace

class TestInputs : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }
    void fixedSizeModelGetsTheSizeOffered();
    void typingInASpinBoxRunsOnce();
    void thumbnailsAreDecodedOffTheGuiThread();
    void anotherFolderDropsTheFirstOnesThumbnails();
    void folderExportShowsWhatItWillWrite();
    void twoInputFolderExportPairsTheFolders();
    void closingWhileCountingLeavesTheCountToNoOne();
    void settingsAreRememberedPerModel();
    void notRunReasons();
};

// A dialog closed while its folder is counted does not wait for the listing (it used to, which froze
// the window on a slow network folder), and the listing's result reaches no one; the next dialog counts.
void TestInputs::closingWhileCountingLeavesTheCountToNoOne()
{
    QTemporaryDir dir;
    for (int i = 0; i < 3; ++i)
        QVERIFY(
            QFile::copy(QString(LAYERSCOPE_FIXTURES_DIR) + "/images/rgb8.png", dir.filePath(QString("%1.png").arg(i))));
    for (int round = 0; round < 20; ++round) { // closed at every stage of the listing, one of them mid-way
        auto* closed = new ExportFolderDialog({"x"}, {dir.path()}, {}, dir.filePath("out.npz"), "NumPy (*.npz)");
        delete closed;
    }
    ExportFolderDialog dialog({"x"}, {dir.path()}, {}, dir.filePath("out.npz"), "NumPy (*.npz)");
    QTRY_VERIFY_WITH_TIMEOUT(dialog.imageCount() == 3, 30000);
}

// The seed CNN on a 320x240 photo: one line of advice (no LibTorch matrix shapes), and the editor
// offers the size; one click runs the model.
void TestInputs::fixedSizeModelGetsTheSizeOffered()
{
    QTemporaryDir dir;
    const QString photo = writeImage(dir.filePath("photo.png"), 320, 240, false);
    MainWindow window;
    window.show();
    QSignalSpy errors(&window, &MainWindow::errorShown);
    QSignalSpy ran(&window, &MainWindow::runReady);
    window.openModel(QString::fromStdString(fixturePath("seed_cnn_scripted", "model.pt")), {photo},
                     Preprocessing::gray());
    QVERIFY(errors.wait(30000));
    const QString error = window.errorText();
    QVERIFY2(error.contains("the model expects 1x92x92 inputs (up to 1x107x107); set Resize to 100x100"),
             qPrintable(error));
    QVERIFY2(!error.contains("mat1") && !error.contains('\n'), qPrintable(error));
    QPushButton* suggestion = window.inputPanel()->preprocessingEditor()->suggestionButton();
    QVERIFY(suggestion->isVisible());
    QCOMPARE(suggestion->text(), QString("Resize to 100x100"));
    QCOMPARE(ran.count(), 0);
    suggestion->click();
    QVERIFY(ran.wait(30000));
    QVERIFY2(window.errorText().isEmpty(), qPrintable(window.errorText()));
    const Preprocessing applied = window.inputPanel()->preprocessing();
    QCOMPARE(applied.resize, ResizeMode::Exact);
    QCOMPARE(applied.resizeWidth, 100);
    QCOMPARE(applied.resizeHeight, 100);
    QCOMPARE(applied.color, ColorMode::Gray);
    QVERIFY(!suggestion->isVisible());
}

// Typing "26" into the resize box starts no run per key; Return runs once; leaving the unchanged
// box runs nothing more.
void TestInputs::typingInASpinBoxRunsOnce()
{
    MainWindow window;
    window.show();
    QApplication::setActiveWindow(&window);
    QVERIFY(QTest::qWaitForWindowActive(&window));
    QSignalSpy ran(&window, &MainWindow::runReady);
    window.openDemo();
    QVERIFY(ran.wait(30000));
    QTRY_VERIFY_WITH_TIMEOUT(!window.isBusy(), 30000);
    ran.clear();
    QSpinBox* width = window.inputPanel()->preprocessingEditor()->widthBox();
    QVERIFY(width->isEnabled());
    width->setFocus();
    QTest::keyClick(width, Qt::Key_A, Qt::ControlModifier);
    QSignalSpy started(window.jobTracker(), &ui::JobTracker::changed);
    for (const char key : {'2', '6'}) {
        QTest::keyClick(width, key);
        QVERIFY(!window.isBusy());
    }
    QCOMPARE(width->cleanText(), QString("26"));
    QCOMPARE(started.count(), 0);
    QTest::keyClick(width, Qt::Key_Return);
    QVERIFY(ran.wait(30000));
    QTRY_VERIFY_WITH_TIMEOUT(!window.isBusy(), 30000);
    QCOMPARE(ran.count(), 1);
    QCOMPARE(window.inputPanel()->preprocessing().resizeWidth, 26);
    started.clear();
    window.inputPanel()->preprocessingEditor()->findChild<QLineEdit*>()->setFocus(); // focus leaves the box
    QVERIFY(!width->hasFocus());
    QCOMPARE(started.count(), 0); // editingFinished on an unchanged value: no run
    QCOMPARE(ran.count(), 1);
}

// 16 photographs of 1600x1200 pixels and a text file named .png: setInputs returns at once, the
// list and then each thumbnail arrive by signal, the event loop never waits long, and the crafted
// file gets its reason, not a decoder.
void TestInputs::thumbnailsAreDecodedOffTheGuiThread()
{
    QTemporaryDir dir;
    const int photos = 16;
    for (int i = 0; i < photos; ++i)
        writeImage(dir.filePath(QString("photo%1.png").arg(i, 2, 10, QChar('0'))), 1600, 1200, true);
    QFile fake(dir.filePath("zz-fake.png"));
    QVERIFY(fake.open(QIODevice::WriteOnly));
    fake.write("this is a text file\n");
    fake.close();

    InputPanel panel;
    panel.show();
    panel.setArguments({{"x", "Tensor", false}});
    QSignalSpy listed(panel.thumbnailLoader(), &ThumbnailLoader::listed);
    QSignalSpy ready(panel.thumbnailLoader(), &ThumbnailLoader::thumbnailReady);
    QSignalSpy finished(panel.thumbnailLoader(), &ThumbnailLoader::finished);
    QSignalSpy changed(&panel, &InputPanel::inputsChanged);

    QElapsedTimer clock;
    clock.start();
    panel.setInputs({dir.path()});
    const qint64 callMs = clock.elapsed();
    QCOMPARE(panel.thumbnails()->count(), 0);          // nothing listed or decoded on this thread
    QCOMPARE(panel.inputs(), QStringList {QString()}); // no image to run until the list arrives

    qint64 longestGapMs = 0, last = clock.elapsed();
    QTimer ticker;
    QObject::connect(&ticker, &QTimer::timeout, [&] {
        longestGapMs = std::max(longestGapMs, clock.elapsed() - last);
        last = clock.elapsed();
    });
    ticker.start(0);
    QVERIFY(finished.wait(120000));
    const qint64 allMs = clock.elapsed();
    ticker.stop();

    QCOMPARE(listed.count(), 1);
    QCOMPARE(changed.count(), 1); // the first image selected: one run
    QCOMPARE(panel.thumbnails()->count(), photos + 1);
    QCOMPARE(ready.count(), photos + 1);
    for (int i = 0; i < photos; ++i) {
        const QImage thumbnail = ready.at(i).at(1).value<QImage>();
        QVERIFY(!thumbnail.isNull());
        QVERIFY2(thumbnail.width() <= 56 && thumbnail.height() <= 56, "decoded at thumbnail size");
        QVERIFY(!panel.thumbnails()->item(i)->icon().isNull());
    }
    const QString reason = ready.at(photos).at(2).toString();
    QVERIFY2(reason.contains("zz-fake.png") && reason.contains("not a PNG"), qPrintable(reason));
    QCOMPARE(panel.thumbnails()->item(photos)->toolTip(), reason);
    QVERIFY(panel.inputs().first().endsWith("photo00.png"));
    qInfo("setInputs: %lld ms; all thumbnails: %lld ms; longest wait of the event loop: %lld ms", callMs, allMs,
          longestGapMs);
    QVERIFY2(callMs * 10 < allMs, "the folder call returns long before decoding is done");
    QVERIFY2(longestGapMs * 4 < allMs, "the event loop kept running while thumbnails were decoded");
}

void TestInputs::anotherFolderDropsTheFirstOnesThumbnails()
{
    QTemporaryDir first, second;
    for (int i = 0; i < 8; ++i)
        writeImage(first.filePath(QString("first%1.png").arg(i)), 1200, 900, true);
    writeImage(second.filePath("a.png"), 40, 30, false);
    writeImage(second.filePath("b.png"), 40, 30, false);
    InputPanel panel;
    panel.setArguments({{"x", "Tensor", false}});
    QSignalSpy ready(panel.thumbnailLoader(), &ThumbnailLoader::thumbnailReady);
    QSignalSpy finished(panel.thumbnailLoader(), &ThumbnailLoader::finished);
    panel.setInputs({first.path()});
    panel.setInputs({second.path()});
    QVERIFY(finished.wait(60000));
    QCOMPARE(finished.count(), 1);
    QCOMPARE(ready.count(), 2); // none of the first folder's
    QCOMPARE(panel.thumbnails()->count(), 2);
    for (int i = 0; i < 2; ++i)
        QVERIFY(panel.thumbnails()->item(i)->data(Qt::UserRole).toString().startsWith(second.path()));
    QCOMPARE(panel.thumbnails()->item(0)->icon().availableSizes().value(0), QSize(40, 30));
}

// The demo with features.0 checked and its images folder in the Inputs row: the folder dialog says
// 2 arrays per image (features.0's [1, 32, 28, 28] float32 and the [1, 10] output), 100,392 bytes
// per image and 1,003,920 for the 10 images, before anything runs.
void TestInputs::folderExportShowsWhatItWillWrite()
{
    MainWindow window;
    window.show();
    QSignalSpy ran(&window, &MainWindow::runReady);
    window.openDemo();
    QVERIFY(ran.wait(30000));
    window.inputPanel()->setInputs({kDemoDir + "/images"});
    QVERIFY(ran.wait(30000));
    QSignalSpy errors(&window, &MainWindow::errorShown);
    window.moduleModel()->setCheckedModules({});
    folderExportAction(window)->trigger();
    QCOMPARE(errors.count(), 1); // nothing checked: said before any dialog
    QVERIFY(!window.findChild<ExportFolderDialog*>());

    window.moduleModel()->setCheckedModules({"features.0"});
    folderExportAction(window)->trigger();
    auto* dialog = window.findChild<ExportFolderDialog*>("exportFolderDialog");
    QVERIFY(dialog);
    QCOMPARE(dialog->inputs(), QStringList {kDemoDir + "/images"}); // the Inputs row's folder
    QSignalSpy counted(dialog, &ExportFolderDialog::counted);
    QVERIFY(counted.wait(30000));
    QCOMPARE(dialog->imageCount(), qint64(10));
    const qint64 perImage = 32 * 28 * 28 * 4 + 10 * 4;
    const QLocale locale;
    const QString summary = dialog->summaryText();
    QVERIFY2(summary.startsWith("2 arrays per image (1 checked module and the model's output)"), qPrintable(summary));
    QVERIFY2(summary.contains("about " + locale.formattedDataSize(perImage) + " per image"), qPrintable(summary));
    QVERIFY2(summary.contains(locale.formattedDataSize(perImage * 10) + " for 10 images"), qPrintable(summary));
    QVERIFY(dialog->canExport());
    // What the batches side by side hold in memory: automatic (one per compute thread, at most 4), or chosen.
    const int automatic = defaultForwardStreams(computeThreads());
    QCOMPARE(dialog->streams(), 0);
    QVERIFY2(dialog->memoryText().contains(locale.formattedDataSize(perImage * 16 * automatic) + " of activations"),
             qPrintable(dialog->memoryText()));
    dialog->setStreams(1);
    QVERIFY2(dialog->memoryText()
                 == "While it runs, 1 batch of 16 images in memory: about " + locale.formattedDataSize(perImage * 16)
                     + " of activations",
             qPrintable(dialog->memoryText()));
    dialog->reject();

    // The numbers themselves, for two modules and a batch of two.
    RunResult run;
    run.captures.push_back({"a", "a", 0, false, Tensor::zeros({2, 8, 4, 4}, DType::Float32)});
    run.captures.push_back({"a:1", "a", 1, false, Tensor::zeros({2, 8, 4, 4}, DType::Float32)});
    run.captures.push_back({"b[0]", "b", 0, false, Tensor::zeros({2, 5}, DType::Float64)});
    run.captures.push_back({"c", "c", 0, false, Tensor::zeros({2, 100}, DType::Float32)}); // not checked
    run.outputs.push_back({"output", "", 0, false, Tensor::zeros({2, 3}, DType::Int64)});
    const ui::ExportEstimate estimate = ui::estimateExport(run, {"a", "b"});
    QCOMPARE(estimate.captures, 4);
    QCOMPARE(estimate.bytesPerImage, qint64(2 * 8 * 4 * 4 * 4 + 5 * 8 + 3 * 8));
}

// The two-input model: one folder per forward argument, paired file by file; the exported arrays
// equal a direct run on the same pairs; folders of different sizes are refused in the dialog.
void TestInputs::twoInputFolderExportPairsTheFolders()
{
    QTemporaryDir dir;
    for (const char* folder : {"x", "y", "short"})
        QVERIFY(QDir(dir.path()).mkpath(folder));
    const int pairs = 3;
    for (int i = 0; i < pairs; ++i) {
        writeImage(dir.filePath(QString("x/%1.png").arg(i)), 101 + 7 * i, 101, true);
        writeImage(dir.filePath(QString("y/%1.png").arg(i)), 101, 101 + 5 * i, true);
        if (i < 2)
            writeImage(dir.filePath(QString("short/%1.png").arg(i)), 101, 101, true);
    }
    const QString modelPath = QString::fromStdString(fixturePath("nested_scripted", "model.pt"));
    const Preprocessing gray = Preprocessing::gray(101);
    MainWindow window;
    window.show();
    QSignalSpy ran(&window, &MainWindow::runReady);
    window.openModel(modelPath, {dir.filePath("x/0.png"), dir.filePath("y/0.png")}, gray);
    QVERIFY(ran.wait(30000));
    window.moduleModel()->setCheckedModules({"feature_model"});
    folderExportAction(window)->trigger();
    auto* dialog = window.findChild<ExportFolderDialog*>("exportFolderDialog");
    QVERIFY(dialog);
    QCOMPARE(dialog->inputs().size(), 2); // one row per forward argument

    QSignalSpy counted(dialog, &ExportFolderDialog::counted);
    dialog->setInput(0, dir.filePath("x"));
    dialog->setInput(1, dir.filePath("short"));
    QTRY_VERIFY_WITH_TIMEOUT(dialog->summaryText() != "Counting the images…", 30000);
    QVERIFY2(
        dialog->summaryText().contains(dir.filePath("short") + " has 2 images but " + dir.filePath("x") + " has 3"),
        qPrintable(dialog->summaryText()));
    QVERIFY(!dialog->canExport());
    QVERIFY(!dialog->findChild<QDialogButtonBox*>()->button(QDialogButtonBox::Ok)->isEnabled());

    dialog->setInput(1, dir.filePath("y"));
    QTRY_VERIFY_WITH_TIMEOUT(dialog->imageCount() == pairs, 30000);
    QVERIFY2(dialog->summaryText().startsWith("3 arrays per image (1 checked module"),
             qPrintable(dialog->summaryText()));
    const QString out = dir.filePath("features.npz");
    dialog->setOutputPath(out);
    dialog->setStreams(1); // one batch at a time: the same arrays
    QSignalSpy exported(&window, &MainWindow::exportFinished);
    dialog->findChild<QDialogButtonBox*>()->button(QDialogButtonBox::Ok)->click();
    QVERIFY(exported.wait(60000));
    QVERIFY2(exported.first().first().toString().startsWith("Wrote 3 rows"),
             qPrintable(exported.first().first().toString()));

    const auto arrays = readNpzAsMap(out.toStdString());
    const Model model = Model::load(modelPath.toStdString());
    for (int i = 0; i < pairs; ++i) {
        std::vector<Tensor> inputs;
        for (const char* folder : {"x", "y"}) {
            Tensor image = loadImage(dir.filePath(QString("%1/%2.png").arg(folder).arg(i)).toStdString(), gray);
            image.shape.insert(image.shape.begin(), 1);
            inputs.push_back(image);
        }
        const RunResult direct = model.run(inputs, {{"feature_model"}, {}});
        std::map<std::string, Tensor> expected;
        for (const auto* list : {&direct.captures, &direct.outputs}) {
            for (const Capture& capture : *list)
                expected[capture.key] = capture.tensor;
        }
        QCOMPARE(expected.size(), std::size_t(3)); // feature_model, feature_model:1, output
        for (const auto& [key, tensor] : expected) {
            QVERIFY2(arrays.count(key), key.c_str());
            QCOMPARE(arrays.at(key).shape[0], std::int64_t(pairs));
            const double difference = maxAbsDifference(rowOf(arrays.at(key), i), tensor);
            QVERIFY2(difference <= 1e-5, qPrintable(QString("%1 row %2: %3").arg(key.c_str()).arg(i).arg(difference)));
        }
    }
}

void TestInputs::settingsAreRememberedPerModel()
{
    QTemporaryDir dir;
    ui::ModelSettings a(dir.filePath("a.pt")), b(dir.filePath("b.pt"));
    QVERIFY(!a.preprocessing());
    a.setPreprocessing(Preprocessing::gray(28));
    b.setPreprocessing(Preprocessing::imagenet());
    QCOMPARE(ui::ModelSettings(dir.filePath("a.pt")).preprocessing()->toJson(), Preprocessing::gray(28).toJson());
    QCOMPARE(ui::ModelSettings(dir.filePath("b.pt")).preprocessing()->toJson(), Preprocessing::imagenet().toJson());
    a.setInputs({"x.png", "folder"});
    QCOMPARE(ui::ModelSettings(dir.filePath("a.pt")).inputs(), (QStringList {"x.png", "folder"}));
    QCOMPARE(b.labelsFile(), dir.filePath("labels.txt")); // beside the model until one is chosen
    b.setLabelsFile("/elsewhere/names.txt");
    QCOMPARE(ui::ModelSettings(dir.filePath("b.pt")).labelsFile(), QString("/elsewhere/names.txt"));
    QCOMPARE(ui::ModelSettings::guessFromChannels(3).toJson(), Preprocessing::imagenet().toJson());
    QCOMPARE(ui::ModelSettings::guessFromChannels(1).color, ColorMode::Gray);
    // An ONNX file that declares its image size: ImageNet's recipe scaled to it, or an exact gray resize.
    const Preprocessing small = ui::ModelSettings::guessFromModel(3, {-1, 3, 112, 112});
    QCOMPARE(small.resizeWidth, 128);
    QCOMPARE(small.cropWidth, 112);
    QCOMPARE(small.cropHeight, 112);
    QCOMPARE(ui::ModelSettings::guessFromModel(3, {-1, 3, -1, -1}).toJson(), Preprocessing::imagenet().toJson());
    const Preprocessing gray = ui::ModelSettings::guessFromModel(1, {1, 1, 101, 101});
    QCOMPARE(gray.color, ColorMode::Gray);
    QCOMPARE(gray.resizeWidth, 101);
}

void TestInputs::notRunReasons()
{
    const Model model = Model::load(fixturePath("nested_scripted", "model.pt"));
    RunResult run;
    run.skipped.push_back({"encoder[1]", "NoneType"});
    QCOMPARE(ui::notRunReason(model, run, "encoder.self_attn"),
             QString("'encoder.self_attn' did not run in this forward"));
    QCOMPARE(ui::notRunReason(model, run, "encoder[1]"), QString("'encoder[1]' returned NoneType, not a tensor"));
    const Model tuple = Model::load(fixturePath("tuple_scripted", "model.pt"));
    int containers = 0;
    for (const auto& m : tuple.modules()) {
        if (!m.hasForward) {
            ++containers;
            const QString name = QString::fromStdString(m.name);
            QCOMPARE(ui::notRunReason(tuple, run, name),
                     QString("'%1' is a container without a forward: its children run, it does not").arg(name));
        }
    }
    QVERIFY(containers > 0); // its ModuleList
}

QTEST_MAIN(TestInputs)
#include "tst_inputs.moc"
