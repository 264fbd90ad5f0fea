// The atlas view: opens an atlas off the GUI thread, ranks channels, shows a channel's top and bottom
// images as patches cut around the maximum, and reports a double-click. The atlas is built from the
// seed CNN's forward-hook captures of the fixture data set, whose images the patches are cut from.

#include "atlasbuilddialog.h"
#include "atlasdock.h"
#include "atlaspatch.h"
#include "atlasprojector.h"
#include "atlasview.h"
#include "layerscope/atlas.h"
#include "layerscope/exporters.h"
#include "layerscope/preprocessing.h"
#include "layerscope/statistics.h"
#include "mainwindow.h"
#include "testsupport.h"

#include "channeldialog.h"
#include "featuremapview.h"
#include "inputpanel.h"

#include <QCheckBox>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <set>

#include <qcustomplot.h>

using namespace layerscope;
using namespace layerscope::test;
using layerscope::ui::AtlasView;

namespace {

std::string fixtureFile(const QString& name) { return QDir(LAYERSCOPE_FIXTURES_DIR).filePath(name).toStdString(); }

QStringList linesOf(const QString& path)
{
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? QString::fromUtf8(file.readAll()).split('\n', Qt::SkipEmptyParts)
                                          : QStringList();
}

std::vector<std::string> datasetFiles()
{
    QFile file(QString::fromStdString(fixtureFile("dataset_files.json")));
    file.open(QIODevice::ReadOnly);
    std::vector<std::string> files;
    for (const QJsonValue& value : QJsonDocument::fromJson(file.readAll()).object()["kept_recursive"].toArray())
        files.push_back(value.toString().toStdString());
    return files;
}

std::string buildAtlas(const QString& folder)
{
    const auto captures = readNpzAsMap(fixtureFile("dataset_reference.npz"));
    const std::vector<std::string> files = datasetFiles();
    AtlasInfo info;
    info.modelPath = "seed_cnn.pt";
    info.modelSha256 = std::string(64, '0');
    info.preprocessingJson = Preprocessing::gray(101, 101).toJson();
    info.topK = 5;
    info.inputs = {fixtureFile("dataset")};
    info.captures = {"cnn.3", "linear.0"};
    info.datasetRows = std::int64_t(files.size());
    const std::string path = QDir(folder).filePath("view.atlas").toStdString();
    AtlasBuilder builder(path, info);
    std::vector<std::int64_t> rows(files.size());
    std::iota(rows.begin(), rows.end(), 0);
    builder.add(rows, files, {{"cnn.3", captures.at("cnn.3")}, {"linear.0", captures.at("linear.0")}},
                captures.at("output"));
    builder.finish();
    return path;
}

} // namespace

class AtlasViewTest : public QObject {
    Q_OBJECT

private slots:
    void initTestCase()
    {
        QVERIFY(dir_.isValid());
        path_ = buildAtlas(dir_.path());
    }

    void patchRegionIsTheCellAndItsNeighbours()
    {
        // 101 x 101 input, 3 x 3 grid: cells of 33.7 pixels, a patch of 101 (3 cells, the whole image).
        QCOMPARE(ui::atlasPatchRegion(QSize(101, 101), QSize(3, 3), 1, 1), QRect(0, 0, 101, 101));
        // 224 x 224 input, 7 x 7 grid: cells of 32; three cells = 96 around cell (2, 5).
        QCOMPARE(ui::atlasPatchRegion(QSize(224, 224), QSize(7, 7), 2, 5), QRect(128, 32, 96, 96));
        // At the border the patch stays inside the image.
        QCOMPARE(ui::atlasPatchRegion(QSize(224, 224), QSize(7, 7), 0, 6), QRect(128, 0, 96, 96));
        // A 56 x 56 grid: cells of 4 pixels, so the patch is a quarter of the image (56).
        QCOMPARE(ui::atlasPatchRegion(QSize(224, 224), QSize(56, 56), 10, 10), QRect(14, 14, 56, 56));
    }

    void opensAndShowsTheTopImagesOfAChannel()
    {
        AtlasView view;
        view.resize(800, 600);
        view.show();
        QSignalSpy opened(&view, &AtlasView::opened);
        QSignalSpy shown(&view, &AtlasView::patchesShown);
        view.openAtlas(QString::fromStdString(path_));
        QVERIFY(opened.wait());
        QVERIFY(view.isEnabled());
        QVERIFY2(view.summary().contains("128 channels") && view.summary().contains("over 22 images"),
                 qPrintable(view.summary()));

        const Atlas atlas = Atlas::open(path_);
        const AtlasLayer& layer = atlas.layer("cnn.3");
        // Ranked by max, highest first, as the statistics say.
        const auto& order = view.channelOrder();
        QCOMPARE(order.size(), std::size_t(128));
        for (std::size_t i = 1; i < order.size(); ++i)
            QVERIFY(layer.statistics[std::size_t(order[i - 1])].max >= layer.statistics[std::size_t(order[i])].max);
        QCOMPARE(view.channel(), order.front());

        view.selectChannel(order[3]);
        QVERIFY(shown.wait());
        const auto& top = layer.top[std::size_t(order[3])];
        QCOMPARE(view.patchList()->count(), int(top.size()));
        for (int i = 0; i < view.patchList()->count(); ++i) {
            QListWidgetItem* item = view.patchList()->item(i);
            QCOMPARE(item->data(Qt::UserRole).toString().toStdString(), atlas.fileOfRow(top[std::size_t(i)].row));
            QVERIFY(item->text().startsWith(QString("#%1").arg(i + 1)));
            QVERIFY(!item->icon().isNull());
        }

        shown.clear();
        view.setBottom(true);
        QVERIFY(shown.wait());
        const auto& bottom = layer.bottom[std::size_t(order[3])];
        QCOMPARE(view.patchList()->item(0)->data(Qt::UserRole).toString().toStdString(),
                 atlas.fileOfRow(bottom[0].row));

        QSignalSpy activated(&view, &AtlasView::imageActivated);
        emit view.patchList()->itemActivated(view.patchList()->item(1));
        QCOMPARE(activated.count(), 1);
        QCOMPARE(activated.at(0).at(0).toString().toStdString(), atlas.fileOfRow(bottom[1].row));
        QCOMPARE(activated.at(0).at(1).toString(), QString("cnn.3"));
        QCOMPARE(activated.at(0).at(2).toInt(), order[3]);
    }

    void rankingByActiveFractionAndVectors()
    {
        AtlasView view;
        view.setAtlas(std::make_shared<const Atlas>(Atlas::open(path_)));
        QVERIFY(view.selectCapture("linear.0"));
        view.setMetric(AtlasView::Metric::Active);
        const AtlasLayer& layer = view.atlas()->layer("linear.0");
        const auto& order = view.channelOrder();
        QCOMPARE(order.size(), std::size_t(256));
        for (std::size_t i = 1; i < order.size(); ++i)
            QVERIFY(layer.statistics[std::size_t(order[i - 1])].activeFraction()
                    >= layer.statistics[std::size_t(order[i])].activeFraction());
        // Dead channels rank last.
        const auto firstDead
            = std::find_if(order.begin(), order.end(), [&](int c) { return layer.statistics[std::size_t(c)].dead(); });
        QVERIFY(std::all_of(firstDead, order.end(), [&](int c) { return layer.statistics[std::size_t(c)].dead(); }));
        QVERIFY(!view.selectCapture("nope"));
    }

    void aBadAtlasIsOneLine()
    {
        AtlasView view;
        QSignalSpy failed(&view, &AtlasView::failed);
        view.openAtlas(dir_.path() + "/missing.atlas");
        QVERIFY(failed.wait());
        const QString message = failed.at(0).at(0).toString();
        QVERIFY2(message.contains("missing.atlas") && !message.contains('\n'), qPrintable(message));
        QVERIFY(!view.isEnabled());
    }

    void projectorGroupsPointsAndNeighbours()
    {
        ui::AtlasProjector projector;
        projector.resize(900, 700);
        projector.show();
        QVERIFY(QTest::qWaitForWindowExposed(&projector));
        QSignalSpy projected(&projector, &ui::AtlasProjector::projected);
        const auto atlas = std::make_shared<const Atlas>(Atlas::open(path_));
        projector.setAtlas(atlas);
        QVERIFY(projected.wait());
        // The data set's files sit at the top level and in sub/: two groups.
        QCOMPARE(projector.groupCount(), 2);
        QCOMPARE(ui::subfolderOf(QString::fromStdString(fixtureFile("dataset/sub/img018.png")), atlas->info().inputs),
                 QString("sub"));
        QCOMPARE(ui::subfolderOf(QString::fromStdString(fixtureFile("dataset/img001.jpg")), atlas->info().inputs),
                 QString());
        const Projection expected = projectPooled(atlas->pooled("cnn.3"));
        QVERIFY(projector.projection().x == expected.x);

        std::set<std::int64_t> classes(atlas->predictedClass().begin(), atlas->predictedClass().end());
        projector.setColouring(ui::AtlasProjector::Colouring::PredictedClass);
        QCOMPARE(projector.groupCount(), int(classes.size()));
        projector.setColouring(ui::AtlasProjector::Colouring::Channel, 7);
        QCOMPARE(projector.groupCount(), 8);

        // The point of image 6, found where the plot draws it; a click opens it and shows its neighbours.
        QCustomPlot* plot = projector.plot();
        const QPointF exact(plot->xAxis->coordToPixel(expected.x[6]), plot->yAxis->coordToPixel(expected.y[6]));
        QCOMPARE(projector.imageAt(exact, 0.5), std::int64_t(6));
        const QPoint pixel = exact.toPoint();
        // Hovering shows the image's thumbnail beside the plot, decoded off the GUI thread.
        QSignalSpy hover(&projector, &ui::AtlasProjector::hoverShown);
        QMouseEvent move(QEvent::MouseMove, QPointF(pixel), plot->mapToGlobal(QPointF(pixel)), Qt::NoButton,
                         Qt::NoButton, Qt::NoModifier);
        QApplication::sendEvent(plot, &move);
        QVERIFY(hover.wait());
        QVERIFY(!projector.hoverPreview()->pixmap().isNull());
        QCOMPARE(projector.hoverPreview()->toolTip().toStdString(), atlas->files()[6]);

        QSignalSpy activated(&projector, &ui::AtlasProjector::imageActivated);
        QSignalSpy shown(&projector, &ui::AtlasProjector::stripShown);
        QTest::mouseClick(plot, Qt::LeftButton, {}, pixel);
        QCOMPARE(activated.count(), 1);
        QCOMPARE(activated.at(0).at(0).toString().toStdString(), atlas->files()[6]);
        QVERIFY(shown.wait());
        const auto neighbours = nearestByCosine(atlas->pooled("cnn.3"), 6, 12);
        QCOMPARE(projector.strip()->count(), 13);
        QCOMPARE(projector.strip()->item(1)->data(Qt::UserRole).toString().toStdString(),
                 atlas->files()[std::size_t(neighbours[0].index)]);
        QVERIFY(!projector.strip()->item(1)->icon().isNull());

        projector.selectInside(QRectF(QPointF(-1e9, -1e9), QPointF(1e9, 1e9)));
        QCOMPARE(projector.strip()->count(), 22);
    }

    void mainWindowBuildsOpensAndShowsAnAtlasImage()
    {
        ui::MainWindow window;
        window.show();
        QSignalSpy ready(&window, &ui::MainWindow::modelReady);
        window.openModel(QString::fromStdString(fixtureFile("seed_cnn_scripted/model.pt")), {},
                         Preprocessing::gray(101, 101));
        QVERIFY(ready.wait(60000));

        AtlasJob job;
        job.run.inputs = {fixtureFile("dataset")};
        job.run.recursive = true;
        job.run.preprocessing = Preprocessing::gray(101, 101);
        job.run.outputPath = QDir(dir_.path()).filePath("window.atlas").toStdString();
        job.captures = {"cnn.3"};
        job.topK = 4;
        QSignalSpy built(window.atlasDock(), &ui::AtlasDock::built);
        QSignalSpy opened(window.atlasDock(), &ui::AtlasDock::opened);
        window.buildAtlas(job);
        QVERIFY(window.atlasDock()->isBuilding());
        QVERIFY(opened.wait(60000));
        QCOMPARE(built.count(), 1);
        QVERIFY(window.atlasDock()->isVisible());
        const Atlas* atlas = window.atlasDock()->view()->atlas();
        QCOMPARE(atlas->images(), std::int64_t(22));

        // Double-click on a top image: it becomes the input, and the capture is shown.
        ui::AtlasView* view = window.atlasDock()->view();
        QSignalSpy shown(view, &ui::AtlasView::patchesShown);
        view->selectChannel(view->channelOrder()[1]);
        QVERIFY(shown.count() > 0 || shown.wait());
        QSignalSpy run(&window, &ui::MainWindow::runReady);
        const QString file = view->patchList()->item(0)->data(Qt::UserRole).toString();
        emit view->patchList()->itemActivated(view->patchList()->item(0));
        QVERIFY(run.wait(60000));
        QCOMPARE(window.inputPanel()->inputs(), QStringList {file});
        // cnn.3 of this image on screen, and the channel in its own window.
        QCOMPARE(window.featureMapView()->activation().shape, (std::vector<std::int64_t> {1, 128, 3, 3}));
        const auto dialogs = window.findChildren<ui::ChannelDialog*>();
        QCOMPARE(dialogs.size(), 1);
        QVERIFY2(dialogs.front()->windowTitle().contains(QString("channel %1").arg(view->channelOrder()[1])),
                 qPrintable(dialogs.front()->windowTitle()));
    }

    // With the atlas's own model in the window, each patch shows the channel's map: the plane whose
    // maximum the atlas recorded, at the recorded cell. Another model draws none.
    void patchesShowTheChannelsMapWithTheAtlasModel()
    {
        ui::MainWindow window;
        window.show();
        QSignalSpy ready(&window, &ui::MainWindow::modelReady);
        const std::string modelPath = fixtureFile("seed_cnn_scripted/model.pt");
        window.openModel(QString::fromStdString(modelPath), {}, Preprocessing::gray(101, 101));
        QVERIFY(ready.wait(60000));
        AtlasJob job;
        job.run.inputs = {fixtureFile("dataset")};
        job.run.preprocessing = Preprocessing::gray(101, 101);
        job.run.outputPath = QDir(dir_.path()).filePath("mapped.atlas").toStdString();
        job.captures = {"cnn.3"};
        job.topK = 3;
        QSignalSpy opened(window.atlasDock(), &ui::AtlasDock::opened);
        window.buildAtlas(job);
        QVERIFY(opened.wait(60000));
        ui::AtlasView* view = window.atlasDock()->view();
        QTRY_VERIFY_WITH_TIMEOUT(view->drawsMaps(), 30000); // the model file hashed off the GUI thread

        const int channel = view->channelOrder()[2];
        QSignalSpy shown(view, &ui::AtlasView::patchesShown);
        view->selectChannel(channel);
        QVERIFY(shown.wait(60000));
        const QImage mapped = view->patchList()->item(0)->icon().pixmap(64, 64).toImage();
        shown.clear();
        view->findChild<QCheckBox*>("atlasMapOverlay")->setChecked(false);
        QVERIFY(shown.wait(60000));
        QVERIFY(view->patchList()->item(0)->icon().pixmap(64, 64).toImage() != mapped);

        // The drawn plane: the atlas's top image through the model, that channel's maximum where recorded.
        const Atlas atlas = Atlas::open(job.run.outputPath);
        const AtlasEntry& top = atlas.layer("cnn.3").top[std::size_t(channel)].front();
        const Model model = Model::load(modelPath);
        Tensor image = loadImage(atlas.fileOfRow(top.row), Preprocessing::gray(101, 101));
        image.shape.insert(image.shape.begin(), 1);
        CaptureRequest request;
        addCaptureKey("cnn.3", request);
        const Tensor plane = ui::channelPlane(model.run({image}, request).captures.front().tensor, channel);
        const std::vector<double> values = valuesAsDoubles(plane);
        const auto peak = std::max_element(values.begin(), values.end()) - values.begin();
        QCOMPARE(int(peak / plane.shape[1]), int(top.y));
        QCOMPARE(int(peak % plane.shape[1]), int(top.x));
        QVERIFY(std::abs(values[std::size_t(peak)] - double(top.score))
                <= 1e-5 * std::max(1.0, std::abs(double(top.score))));

        view->setModel(std::make_shared<const Model>(Model::load(fixtureFile("resnet18_scripted/model.pt"))));
        QVERIFY(!view->drawsMaps());
    }

    void exportsWhatIsShown()
    {
        ui::AtlasDock dock;
        dock.resize(900, 700);
        dock.show();
        QSignalSpy opened(&dock, &ui::AtlasDock::opened);
        QSignalSpy projected(dock.projector(), &ui::AtlasProjector::projected);
        QSignalSpy shown(dock.view(), &ui::AtlasView::patchesShown);
        dock.openAtlas(QString::fromStdString(path_));
        QVERIFY(opened.wait());
        QVERIFY(projected.count() > 0 || projected.wait());
        QVERIFY(shown.count() > 0 || shown.wait());
        const Atlas atlas = Atlas::open(path_);
        const AtlasLayer& layer = atlas.layer("cnn.3");

        const QString statistics = dir_.filePath("channels.csv");
        QVERIFY(dock.exportStatistics(statistics));
        const QStringList lines = linesOf(statistics);
        QCOMPARE(lines.size(), 129);
        QCOMPARE(lines[0], QString("channel,mean,std,min,max,active,nan,inf,dead"));
        for (int c = 0; c < 128; ++c) {
            const QStringList f = lines[c + 1].split(',');
            const ChannelStatistics& s = layer.statistics[std::size_t(c)];
            QCOMPARE(f[0].toInt(), c);
            QCOMPARE(f[1].toDouble(), s.mean); // 17 digits: read back exactly
            QCOMPARE(f[2].toDouble(), s.std());
            QCOMPARE(f[8].toInt(), s.dead() ? 1 : 0);
        }

        const QString coordinates = dir_.filePath("projector.csv");
        QVERIFY(dock.exportCoordinates(coordinates));
        const QStringList rows = linesOf(coordinates);
        QCOMPARE(rows.size(), 23);
        const Projection projection = projectPooled(atlas.pooled("cnn.3"));
        QCOMPARE(rows[3].split(',')[0].toStdString(), atlas.files()[2]);
        QCOMPARE(rows[3].split(',')[1].toFloat(), projection.x[2]);

        const QString patches = dir_.filePath("patches.png");
        QVERIFY(dock.exportPatches(patches));
        const QImage picture(patches);
        QVERIFY(!picture.isNull() && picture.width() >= 5 * 112);
        const QString svg = dir_.filePath("projector.svg");
        QVERIFY(dock.exportProjector(svg));
        QFile svgFile(svg);
        QVERIFY(svgFile.open(QIODevice::ReadOnly) && svgFile.readAll().contains("<svg"));
    }

    // "Keep its progress" (on by default) makes the build resumable: one cancelled after its first batch
    // is noted in the dialog, and building it again continues it to the atlas one uninterrupted pass gives.
    void aCancelledBuildContinuesWhenBuiltAgain()
    {
        ui::MainWindow window;
        QSignalSpy ready(&window, &ui::MainWindow::modelReady);
        const std::string modelPath = fixtureFile("seed_cnn_scripted/model.pt");
        window.openModel(QString::fromStdString(modelPath), {}, Preprocessing::gray(101, 101));
        QVERIFY(ready.wait(60000));
        const QString output = QDir(dir_.path()).filePath("kept.atlas");
        ui::AtlasBuildDialog dialog({"cnn.3"}, QString::fromStdString(fixtureFile("dataset")), "seed");
        dialog.outputEdit()->setText(output);
        QVERIFY(dialog.keepProgressBox()->isChecked());
        QVERIFY(dialog.interruptedNote()->isHidden());
        AtlasJob job = dialog.job(Preprocessing::gray(101, 101));
        QVERIFY(job.run.resume);
        job.run.batchSize = 4;

        // Cut short after its first batch, as a cancel in the dock does.
        const AtlasResult cut = buildAtlas(modelPath, job, [](const ExtractionProgress&) { return false; });
        QVERIFY(cut.cancelled && cut.images == 4);
        QVERIFY(!QFileInfo::exists(output));
        dialog.outputEdit()->setText(output + "/");
        QVERIFY(!dialog.interruptedNote()->isHidden());
        QVERIFY(dialog.interruptedNote()->text().contains("An interrupted build of this atlas is kept"));

        QSignalSpy opened(window.atlasDock(), &ui::AtlasDock::opened);
        window.buildAtlas(job);
        QVERIFY(opened.wait(60000));
        QCOMPARE(window.atlasDock()->view()->atlas()->images(), std::int64_t(22));
        QVERIFY(!QFileInfo::exists(QString::fromStdString(resumeStatePathFor(output.toStdString()))));
        AtlasJob whole = job;
        whole.run.resume = false;
        whole.run.outputPath = QDir(dir_.path()).filePath("whole.atlas").toStdString();
        QCOMPARE(buildAtlas(modelPath, whole).images, std::int64_t(22));
        const auto expected = filesUnder(QString::fromStdString(whole.run.outputPath));
        QVERIFY(expected.size() >= 12);
        QVERIFY(filesUnder(output) == expected);
    }

    void buildingWithoutAModelSaysWhy()
    {
        ui::MainWindow window;
        QSignalSpy error(&window, &ui::MainWindow::errorShown);
        window.buildAtlas({});
        QCOMPARE(error.count(), 1);
        QVERIFY(error.at(0).at(0).toString().contains("Open a model first"));
    }

private:
    QTemporaryDir dir_;
    std::string path_;
};

QTEST_MAIN(AtlasViewTest)
#include "tst_atlasview.moc"
