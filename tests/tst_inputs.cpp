// The Inputs dock and what it starts, on real widgets offscreen: the size a fixed-size model takes
// offered after a failed run, spin boxes that run once per finished edit, folder thumbnails decoded
// off the GUI thread, and folder exports (one folder per forward argument, the size estimate).

#include "inputpanel.h"
#include "jobtracker.h"
#include "mainwindow.h"
#include "preprocessingeditor.h"
#include "thumbnailloader.h"

#include "layerscope/error.h"
#include "layerscope/model.h"
#include "layerscope/preprocessing.h"
#include "testsupport.h"

#include <QElapsedTimer>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QRandomGenerator>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTimer>
#include <QtTest>

using namespace layerscope;
using namespace layerscope::test;
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

} // namespace

class TestInputs : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }
    void fixedSizeModelGetsTheSizeOffered();
    void typingInASpinBoxRunsOnce();
    void thumbnailsAreDecodedOffTheGuiThread();
    void anotherFolderDropsTheFirstOnesThumbnails();
};

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
    window.openModel(QString::fromStdString(fixturePath("seed_cnn_scripted", "model.pt")), {photo}, Preprocessing::gray());
    QVERIFY(errors.wait(30000));
    const QString error = window.errorText();
    QVERIFY2(error.contains("the model expects 1x92x92 inputs (up to 1x107x107); set Resize to 100x100"), qPrintable(error));
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
    QCOMPARE(panel.thumbnails()->count(), 0); // nothing listed or decoded on this thread
    QCOMPARE(panel.inputs(), QStringList{QString()}); // no image to run until the list arrives

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
    qInfo("setInputs: %lld ms; all thumbnails: %lld ms; longest wait of the event loop: %lld ms", callMs, allMs, longestGapMs);
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

QTEST_MAIN(TestInputs)
#include "tst_inputs.moc"
