// Batch extraction over real image folders, against features computed in Python with forward hooks.

#include "layerscope/error.h"
#include "layerscope/extraction.h"
#include "testsupport.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QTemporaryDir>
#include <QtTest>

using namespace layerscope;
using namespace layerscope::test;

namespace {

QString fixtures(const QString& file) { return QDir(LAYERSCOPE_FIXTURES_DIR).filePath(file); }

QJsonObject readJson(const std::string& path)
{
    QFile file(QString::fromStdString(path));
    file.open(QIODevice::ReadOnly);
    return QJsonDocument::fromJson(file.readAll()).object();
}

QStringList keptFiles()
{
    QStringList files;
    QFile file(fixtures("dataset_files.json"));
    file.open(QIODevice::ReadOnly);
    for (const auto& f : QJsonDocument::fromJson(file.readAll()).object()["kept_recursive"].toArray())
        files << f.toString();
    return files;
}

ExtractionJob seedJob(const QString& output)
{
    ExtractionJob job;
    job.inputs = {fixtures("dataset").toStdString()};
    job.recursive = true;
    job.preprocessing = Preprocessing::gray(101);
    job.batchSize = 5;
    job.request.outputsOf = {"cnn.3", "linear.0"};
    job.outputPath = output.toStdString();
    return job;
}

} // namespace

class TestExtraction : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { model_ = std::make_unique<Model>(Model::load(fixturePath("seed_cnn_scripted", "model.pt"))); }
    void folderRunMatchesPythonHooks();
    void streamsWriteWhatOneStreamWrites();
    void shardsSplitTheDataSet();
    void namesOutsideAsciiAreRead();
    void jobCancelledBetweenBatchesOrInAForward_data();
    void jobCancelledBetweenBatchesOrInAForward();
    void cancelKeepsCompleteRows();
    void pairedFoldersFeedTwoInputs();
    void singleImageAndNpyInputs();
    void shardsWithoutImagesAreRefused();
    void manifestIsStreamedAsJson();
    void csvRowsNamedByTheirFiles();
    void failedForwardLeavesNothing();
    void imagesOfDifferentSizesNeedResize();

private:
    std::unique_ptr<Model> model_;
};

void TestExtraction::folderRunMatchesPythonHooks()
{
    QTemporaryDir out;
    const ExtractionResult result = runExtraction(*model_, seedJob(out.filePath("features.npz")));
    const QStringList kept = keptFiles();
    QCOMPARE(result.rows, std::int64_t(kept.size()));
    QCOMPARE(result.skippedInputs.size(), std::size_t(2));
    QVERIFY(QString::fromStdString(result.skippedInputs[0].reason).contains("img005_truncated.jpg: truncated JPEG"));
    QVERIFY(QString::fromStdString(result.skippedInputs[1].reason).contains("img007_fake.png: not a PNG image"));

    const auto got = readNpzAsMap(out.filePath("features.npz").toStdString());
    const auto reference = readNpzAsMap(fixtures("dataset_reference.npz").toStdString());
    for (const char* key : {"cnn.3", "linear.0", "output"}) {
        QCOMPARE(shapeToString(got.at(key).shape), shapeToString(reference.at(key).shape));
        const double difference = maxAbsDifference(got.at(key), reference.at(key));
        QVERIFY2(difference <= 1e-5, qPrintable(QString("%1: %2").arg(key).arg(difference)));
    }

    const QJsonObject manifest = readJson(result.manifestPath);
    QCOMPARE(manifest["model"].toObject()["sha256"].toString().toStdString(),
             sha256OfFile(fixturePath("seed_cnn_scripted", "model.pt")));
    QCOMPARE(manifest["model"].toObject()["sha256"].toString().size(), 64);
    const QJsonArray rows = manifest["rows"].toArray();
    QCOMPARE(rows.size(), kept.size());
    for (int i = 0; i < rows.size(); ++i)
        QCOMPARE(rows[i].toObject()["files"].toArray()[0].toString(), kept[i]);
    QCOMPARE(manifest["skipped_inputs"].toArray().size(), 2);
    QCOMPARE(manifest["preprocessing"].toObject()["color"].toString(), QString("gray"));
    QCOMPARE(manifest["cancelled"].toBool(), false);
    const QJsonArray captures = manifest["captures"].toArray();
    QCOMPARE(captures.size(), 3);
    QCOMPARE(captures[0].toObject()["name"].toString(), QString("cnn.3"));
    QCOMPARE(captures[0].toObject()["shape"].toArray()[0].toInt(), int(kept.size()));
    QCOMPARE(captures[0].toObject()["dtype"].toString(), QString("float32"));
}

// Batches side by side (three streams, 8 batches of 3, unreadable files among them) give the rows,
// arrays and manifest of one stream: data-set order, bit for bit.
void TestExtraction::streamsWriteWhatOneStreamWrites()
{
    QTemporaryDir out;
    ExtractionJob one = seedJob(out.filePath("one.npz"));
    one.batchSize = 3;
    one.streams = 1;
    ExtractionJob three = one;
    three.streams = 3;
    three.outputPath = out.filePath("three.npz").toStdString();
    const ExtractionResult a = runExtraction(*model_, one), b = runExtraction(*model_, three);
    QCOMPARE(a.streams, 1);
    QCOMPARE(b.streams, 3);
    QCOMPARE(b.rows, std::int64_t(keptFiles().size()));
    const auto expected = readNpzAsMap(one.outputPath), got = readNpzAsMap(three.outputPath);
    const auto reference = readNpzAsMap(fixtures("dataset_reference.npz").toStdString());
    QCOMPARE(got.size(), expected.size());
    for (const auto& [key, tensor] : expected) {
        QCOMPARE(got.at(key).shape, tensor.shape);
        QVERIFY2(maxAbsDifference(got.at(key), tensor) == 0, key.c_str());
        QVERIFY2(maxAbsDifference(got.at(key), reference.at(key)) <= 1e-5, key.c_str());
    }
    const QJsonObject first = readJson(a.manifestPath), second = readJson(b.manifestPath);
    for (const char* key : {"rows", "skipped_inputs", "captures", "not_executed"})
        QVERIFY2(first[key] == second[key], key);
    QCOMPARE(second["skipped_inputs"].toArray().size(), 2);
    QCOMPARE(second["timing"].toObject()["streams"].toInt(), 3);
}

void TestExtraction::jobCancelledBetweenBatchesOrInAForward_data()
{
    QTest::addColumn<QString>("when");
    QTest::addColumn<int>("streams");
    QTest::addColumn<int>("rows");
    QTest::newRow("before it starts") << "before" << 1 << -1;
    QTest::newRow("after the first batch") << "batch" << 1 << 5;
    // The second and third batches are under way when the first is done: they are dropped.
    QTest::newRow("after the first batch, 3 streams") << "batch" << 3 << 5;
    QTest::newRow("inside the second batch's forward") << "forward" << 1 << 5;
}

void TestExtraction::jobCancelledBetweenBatchesOrInAForward()
{
    QFETCH(QString, when);
    QFETCH(int, streams);
    QFETCH(int, rows);
    QTemporaryDir out;
    ExtractionJob job = seedJob(out.filePath("cancelled.npz")); // batches of 5
    job.streams = streams;                                      // side by side, forwards report no modules
    JobControl control;
    std::int64_t imagesDone = 0;
    QStringList forwardSteps;
    control.progress = [&](const JobProgress& p) {
        if (p.step == "images") {
            imagesDone = p.done;
            if (when == "batch")
                control.cancel.cancel();
        } else if (when == "forward" && imagesDone >= 5) {
            forwardSteps << QString::fromStdString(p.step);
            if (forwardSteps.size() == 3) // a few modules into the second batch's forward
                control.cancel.cancel();
        }
    };
    if (when == "before") {
        control.cancel.cancel();
        QVERIFY_THROWS_EXCEPTION(Cancelled, runExtraction(*model_, job, control));
        QVERIFY(!QFileInfo::exists(out.filePath("cancelled.npz")));
        return;
    }
    const ExtractionResult result = runExtraction(*model_, job, control);
    QVERIFY(result.cancelled);
    QCOMPARE(result.rows, std::int64_t(rows));
    if (when == "forward")
        QCOMPARE(forwardSteps.size(), 3); // the forward stopped there: no module after the third reported
    // What was written is complete, valid and equal to Python's hooks for those images.
    const auto written = readNpzAsMap(out.filePath("cancelled.npz").toStdString());
    const auto reference = readNpzAsMap(fixtures("dataset_reference.npz").toStdString());
    QCOMPARE(written.at("linear.0").shape[0], std::int64_t(rows));
    QVERIFY(maxAbsDifference(written.at("linear.0"), rowsOf(reference.at("linear.0"), 0, rows)) <= 1e-5);
    QVERIFY(readJson(result.manifestPath)["cancelled"].toBool());
    QCOMPARE(readJson(result.manifestPath)["rows"].toArray().size(), rows);
}

// Extensions are compared in lower case; names with bytes above 127 (UTF-8) must work too.
void TestExtraction::namesOutsideAsciiAreRead()
{
    QTemporaryDir dir;
    QVERIFY(QFile::copy(fixtures("dataset/img000.png"), dir.filePath("Ärger.PNG")));
    QVERIFY(QFile::copy(fixtures("dataset/img001.jpg"), dir.filePath("Über.JPG")));
    QVERIFY(QFile::copy(fixtures("seed_cnn_scripted/input0.npy"), dir.filePath("Öl.NPY")));
    QVERIFY(isImageFile(dir.filePath("Ärger.PNG").toStdString()));
    QVERIFY(!isImageFile(dir.filePath("x.pñg").toStdString()));
    ExtractionJob job = seedJob(dir.filePath("out.npz"));
    job.inputs = {dir.path().toStdString()};
    const ExtractionResult folder = runExtraction(*model_, job);
    QCOMPARE(folder.rows, std::int64_t(2));
    QVERIFY(folder.skippedInputs.empty());
    job.inputs = {dir.filePath("Öl.NPY").toStdString()};
    job.outputPath = dir.filePath("npy.npz").toStdString();
    const ExtractionResult array = runExtraction(*model_, job);
    QCOMPARE(array.rows, std::int64_t(2));
    // An .npy is taken as it is: the manifest records no image preprocessing for it.
    QVERIFY(readJson(array.manifestPath)["preprocessing"].isNull());
}

void TestExtraction::shardsSplitTheDataSet()
{
    QTemporaryDir out;
    const auto reference = readNpzAsMap(fixtures("dataset_reference.npz").toStdString());
    const QStringList kept = keptFiles();
    QSet<QString> seen;
    for (int shard = 0; shard < 3; ++shard) {
        ExtractionJob job = seedJob(out.filePath(QString("shard%1").arg(shard)));
        job.shardIndex = shard;
        job.shardCount = 3;
        const ExtractionResult result = runExtraction(*model_, job);
        const Tensor features = readNpy(out.filePath(QString("shard%1/linear.0.npy").arg(shard)).toStdString());
        const QJsonArray rows = readJson(result.manifestPath)["rows"].toArray();
        QCOMPARE(features.shape[0], std::int64_t(rows.size()));
        for (int i = 0; i < rows.size(); ++i) {
            const QJsonObject entry = rows[i].toObject();
            QCOMPARE(entry["dataset_index"].toInt() % 3, shard);
            const QString file = entry["files"].toArray()[0].toString();
            QVERIFY(!seen.contains(file));
            seen.insert(file);
            QVERIFY(maxAbsDifference(sampleOf(features, i), sampleOf(reference.at("linear.0"), kept.indexOf(file)))
                    <= 1e-5);
        }
    }
    QCOMPARE(seen.size(), kept.size());
}

void TestExtraction::cancelKeepsCompleteRows()
{
    QTemporaryDir out;
    int calls = 0;
    ExtractionProgress last;
    const ExtractionResult result
        = runExtraction(*model_, seedJob(out.filePath("part.npz")), [&](const ExtractionProgress& p) {
              last = p;
              return ++calls < 2; // stop after the second batch
          });
    QCOMPARE(last.total, std::int64_t(24));
    QCOMPARE(last.done, std::int64_t(10));
    QVERIFY(result.cancelled);
    const auto got = readNpzAsMap(out.filePath("part.npz").toStdString());
    QCOMPARE(got.at("linear.0").shape[0], result.rows);
    QVERIFY(result.rows >= 5 && result.rows <= 10);
    QVERIFY(readJson(result.manifestPath)["cancelled"].toBool());
    QCOMPARE(readJson(result.manifestPath)["rows"].toArray().size(), int(result.rows));
}

void TestExtraction::pairedFoldersFeedTwoInputs()
{
    QTemporaryDir out;
    const Model nested = Model::load(fixturePath("nested_scripted", "model.pt"));
    ExtractionJob job;
    job.inputs = {fixtures("dataset").toStdString(), fixtures("dataset").toStdString()};
    job.preprocessing = Preprocessing::gray(101);
    job.batchSize = 4;
    job.request.outputsOf = {"feature_model"};
    job.outputPath = out.filePath("pairs").toStdString();
    const ExtractionResult result = runExtraction(nested, job);
    QCOMPARE(result.rows, std::int64_t(18)); // 20 files, 2 unreadable
    const Tensor first = readNpy(out.filePath("pairs/feature_model.npy").toStdString());
    const Tensor second = readNpy(out.filePath("pairs/feature_model:1.npy").toStdString());
    QCOMPARE(first.shape[0], std::int64_t(18));
    QCOMPARE(maxAbsDifference(first, second), 0.0); // the same image on both inputs

    job.inputs[1] = fixtures("dataset/sub").toStdString();
    try {
        runExtraction(nested, job);
        QFAIL("no error");
    } catch (const Error& error) {
        QVERIFY2(QString(error.what()).contains("paired file by file"), error.what());
    }
}

void TestExtraction::singleImageAndNpyInputs()
{
    QTemporaryDir out;
    ExtractionJob job = seedJob(out.filePath("one.npz"));
    job.inputs = {fixtures("images/photo.jpg").toStdString()};
    ExtractionResult result = runExtraction(*model_, job);
    QCOMPARE(result.rows, std::int64_t(1));
    QCOMPARE(shapeToString(readNpzAsMap(job.outputPath).at("cnn.3").shape), std::string("[1, 128, 3, 3]"));

    job.inputs = {fixturePath("seed_cnn_scripted", "input0.npy")};
    job.outputPath = out.filePath("two.npz").toStdString();
    result = runExtraction(*model_, job);
    QCOMPARE(result.rows, std::int64_t(2));
    const auto reference = readNpzAsMap(fixturePath("seed_cnn_scripted", "reference.npz"));
    QVERIFY(maxAbsDifference(readNpzAsMap(job.outputPath).at("linear.0"), reference.at("linear.0")) <= 1e-5);
}

void TestExtraction::manifestIsStreamedAsJson()
{
    // The rows are streamed into the manifest, one per line: the file must be valid JSON with the rows
    // of the data set in order.
    QTemporaryDir out;
    ExtractionJob job = seedJob(out.filePath("streamed"));
    job.batchSize = 3;
    const ExtractionResult result = runExtraction(*model_, job);
    const ProcessOutcome python = runProgram(
        LAYERSCOPE_PYTHON,
        {"-c",
         "import sys, json; text = open(sys.argv[1], encoding='utf-8').read(); m = json.loads(text); "
         "assert sum(line.lstrip().startswith('{\"row\"') for line in text.splitlines()) == len(m['rows']); "
         "kept = json.load(open(sys.argv[2]))['kept_recursive']; "
         "assert [r['files'][0] for r in m['rows']] == kept, m['rows']; "
         "assert [r['row'] for r in m['rows']] == list(range(len(kept))); "
         "assert all(m['rows'][i]['dataset_index'] < m['rows'][i + 1]['dataset_index'] for i in range(len(kept) - 1)); "
         "print(len(m['rows']))",
         QString::fromStdString(result.manifestPath), fixtures("dataset_files.json")});
    QVERIFY2(python.exitCode == 0, qPrintable(python.err));
    QCOMPARE(python.out.trimmed().toLongLong(), result.rows);
    // The staged rows went with the staging folder.
    QVERIFY(
        QDir(out.path()).entryList(QDir::Hidden | QDir::AllEntries | QDir::NoDotAndDotDot).filter("partial").isEmpty());
}

void TestExtraction::csvRowsNamedByTheirFiles()
{
    // Row labels are staged on disk during the run and read back for the CSV's first column.
    QTemporaryDir out;
    ExtractionJob job = seedJob(out.filePath("rows.csv"));
    job.request.outputsOf = {"linear.0"};
    const ExtractionResult result = runExtraction(*model_, job);
    const ProcessOutcome python
        = runProgram(LAYERSCOPE_PYTHON,
                     {"-c",
                      "import sys, csv, json, numpy as np; rows = list(csv.reader(open(sys.argv[1]))); "
                      "kept = json.load(open(sys.argv[2]))['kept_recursive']; "
                      "assert [r[0] for r in rows[1:]] == kept, [r[0] for r in rows[1:]]; "
                      "ref = np.load(sys.argv[3]); names = rows[0][1:]; "
                      "got = np.array([[float(v) for v in r[1:]] for r in rows[1:]], dtype=np.float32); "
                      "cols = [i for i, n in enumerate(names) if n.startswith('linear.0[')]; "
                      "assert np.abs(got[:, cols] - ref['linear.0'].reshape(len(kept), -1)).max() <= 1e-5; print('ok')",
                      out.filePath("rows.csv"), fixtures("dataset_files.json"), fixtures("dataset_reference.npz")});
    QVERIFY2(python.exitCode == 0, qPrintable(python.err));
    QCOMPARE(result.rows, std::int64_t(keptFiles().size()));
}

// A single image is one forward: a shard of it is refused, not read past its end; so is an empty shard.
void TestExtraction::shardsWithoutImagesAreRefused()
{
    QTemporaryDir out;
    QVERIFY(QDir().mkpath(out.filePath("one")));
    QVERIFY(QFile::copy(fixtures("images/photo.jpg"), out.filePath("one/photo.jpg")));
    const auto errorFor = [&](const QString& input) {
        ExtractionJob job = seedJob(out.filePath("shard.npz"));
        job.inputs = {input.toStdString()};
        job.shardIndex = 1;
        job.shardCount = 2;
        try {
            runExtraction(*model_, job);
        } catch (const Error& error) {
            return QString(error.what());
        }
        return QString("no error");
    };
    QCOMPARE(errorFor(fixtures("images/photo.jpg")),
             QString("--shard 1/2 splits the images of a folder, but every input here is a single file (one forward)"));
    QCOMPARE(errorFor(out.filePath("one")),
             QString("shard 1/2 has no images: 1 in all, shard I takes images I, I+N, I+2N, ..."));
    QVERIFY(!QFile::exists(out.filePath("shard.npz")));
}

void TestExtraction::failedForwardLeavesNothing()
{
    QTemporaryDir out;
    ExtractionJob job = seedJob(out.filePath("never.npz"));
    job.preprocessing = Preprocessing::imagenet(); // 3 channels into Conv2d(1, 16, 5)
    job.streams = 3;                               // the first batch's error, with two more forwards under way
    try {
        runExtraction(*model_, job);
        QFAIL("no error");
    } catch (const Error& error) {
        QVERIFY2(QString(error.what()).contains("module 'cnn.0.0' (Conv2d) on input of shape [5, 3, 224, 224]"),
                 error.what());
    }
    QVERIFY(QDir(out.path()).entryList(QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot).isEmpty());
}

// resnet18 takes any size (adaptive pooling), so the second image, of another size, can only be
// skipped because it cannot join the first in a batch; the first is written as a direct run gives it.
void TestExtraction::imagesOfDifferentSizesNeedResize()
{
    QTemporaryDir dir;
    QVERIFY(QDir().mkpath(dir.filePath("photos")));
    QVERIFY(QFile::copy(fixtures("dataset/img000.png"), dir.filePath("photos/a.png")));
    QVERIFY(QFile::copy(fixtures("dataset/img001.jpg"), dir.filePath("photos/b.jpg")));
    const Model resnet = Model::load(fixturePath("resnet18_scripted", "model.pt"));
    ExtractionJob job;
    job.inputs = {dir.filePath("photos").toStdString()};
    job.preprocessing = Preprocessing(); // RGB, [0,1], no resize: the two photographs keep their sizes
    job.request.outputsOf = {"avgpool"};
    job.outputPath = dir.filePath("sizes.npz").toStdString();
    const ExtractionResult result = runExtraction(resnet, job);
    QCOMPARE(result.rows, std::int64_t(1));
    QCOMPARE(result.skippedInputs.size(), std::size_t(1));
    QVERIFY2(QString::fromStdString(result.skippedInputs[0].reason).contains("b.jpg: preprocessed to")
                 && QString::fromStdString(result.skippedInputs[0].reason).contains("give --resize"),
             result.skippedInputs[0].reason.c_str());
    Tensor first = loadImage(dir.filePath("photos/a.png").toStdString(), job.preprocessing);
    first.shape.insert(first.shape.begin(), 1);
    const RunResult direct = resnet.run({first}, {{"avgpool"}, {}});
    QCOMPARE(maxAbsDifference(readNpzAsMap(job.outputPath).at("avgpool"), direct.captures.at(0).tensor), 0.0);
}

QTEST_APPLESS_MAIN(TestExtraction)
#include "tst_extraction.moc"
