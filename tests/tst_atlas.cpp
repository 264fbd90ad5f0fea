// The atlas's arithmetic and files, against numpy (tests/interop/check_atlas.py) on real captures:
// the seed CNN's forward-hook outputs over the fixture data set, and on edge values (NaN, Inf, ties,
// dead channels, float64 tokens). Shards merge to the atlas of one run; bad atlas files get one line.

#include "layerscope/atlas.h"
#include "layerscope/error.h"
#include "layerscope/npy.h"
#include "testsupport.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QTemporaryDir>
#include <QtTest>

#include <cstring>
#include <filesystem>

using namespace layerscope;
using namespace layerscope::test;

namespace {

std::string fixtureFile(const QString& name) { return QDir(LAYERSCOPE_FIXTURES_DIR).filePath(name).toStdString(); }

// Rows [begin, end) of an [N, ...] tensor, copied.
Tensor rowsOf(const Tensor& tensor, std::int64_t begin, std::int64_t end)
{
    std::vector<std::int64_t> shape = tensor.shape;
    shape[0] = end - begin;
    Tensor part = Tensor::zeros(shape, tensor.dtype);
    const std::size_t rowBytes = tensor.nbytes() / std::size_t(tensor.shape[0]);
    std::memcpy(part.mutableData(), tensor.values<char>() + std::size_t(begin) * rowBytes, part.nbytes());
    return part;
}

std::vector<std::string> fixtureFiles(std::int64_t count)
{
    QFile file(QString::fromStdString(fixtureFile("dataset_files.json")));
    if (!file.open(QIODevice::ReadOnly))
        return {};
    std::vector<std::string> files;
    for (const QJsonValue& value : QJsonDocument::fromJson(file.readAll()).object()["kept_recursive"].toArray())
        files.push_back(value.toString().toStdString());
    files.resize(std::size_t(count));
    return files;
}

struct Job {
    std::map<std::string, Tensor> captures; // every image, by capture key
    std::vector<std::string> keys;          // what the atlas scores
    std::int64_t images = 0;
};

Job jobFrom(const std::string& npz)
{
    Job job;
    job.captures = readNpzAsMap(npz);
    for (const auto& [key, tensor] : job.captures) {
        if (key != "output")
            job.keys.push_back(key);
        job.images = tensor.shape[0];
    }
    return job;
}

// Builds an atlas of `job`'s rows with row % shardCount == shardIndex, in batches of `batch`.
void build(const Job& job, const std::string& out, AtlasScore score, int topK, int batch, int shardIndex = 0,
           int shardCount = 1)
{
    AtlasInfo info;
    info.modelPath = "seed_cnn.pt";
    info.modelSha256 = std::string(64, 'a');
    info.inputs = {"dataset/"};
    info.score = score;
    info.topK = topK;
    info.shardIndex = shardIndex;
    info.shardCount = shardCount;
    info.datasetRows = job.images;
    info.captures = job.keys;
    const std::vector<std::string> files = fixtureFiles(job.images);
    AtlasBuilder builder(out, info);
    std::vector<std::int64_t> mine;
    for (std::int64_t row = shardIndex; row < job.images; row += shardCount)
        mine.push_back(row);
    for (std::size_t start = 0; start < mine.size(); start += std::size_t(batch)) {
        const std::size_t end = std::min(mine.size(), start + std::size_t(batch));
        std::vector<std::int64_t> rows(mine.begin() + long(start), mine.begin() + long(end));
        std::vector<std::string> names;
        std::map<std::string, Tensor> captures;
        for (const auto& [key, tensor] : job.captures) {
            std::vector<Tensor> parts;
            for (std::int64_t row : rows)
                parts.push_back(rowsOf(tensor, row, row + 1));
            Tensor joined = Tensor::zeros([&] { auto s = tensor.shape; s[0] = std::int64_t(rows.size()); return s; }(), tensor.dtype);
            for (std::size_t i = 0; i < parts.size(); ++i)
                std::memcpy(static_cast<char*>(joined.mutableData()) + i * parts[i].nbytes(), parts[i].data.get(), parts[i].nbytes());
            captures[key] = joined;
        }
        for (std::int64_t row : rows)
            names.push_back(files.at(std::size_t(row)));
        const auto output = captures.find("output");
        builder.add(rows, names, captures, output == captures.end() ? Tensor() : output->second);
    }
    builder.finish();
}

void expectNumpyAgrees(const std::string& atlas, const std::string& npz, const char* score, int topK)
{
    const ProcessOutcome result = runProgram(LAYERSCOPE_PYTHON,
        {QString(LAYERSCOPE_TESTS_SOURCE_DIR) + "/interop/check_atlas.py", QString::fromStdString(atlas),
         QString::fromStdString(npz), "--score", score, "--top", QString::number(topK)});
    QVERIFY2(result.exitCode == 0, qPrintable(result.out + result.err));
}

QString errorOf(const std::function<void()>& action)
{
    try {
        action();
    } catch (const Error& e) {
        return QString::fromStdString(e.what());
    }
    return {};
}

} // namespace

class AtlasTest : public QObject {
    Q_OBJECT

private slots:
    void initTestCase()
    {
        QVERIFY(dir_.isValid());
        real_ = fixtureFile("dataset_reference.npz");
        edge_ = dir_.filePath("edge.npz").toStdString();
        const ProcessOutcome made = runProgram(LAYERSCOPE_PYTHON,
            {QString(LAYERSCOPE_TESTS_SOURCE_DIR) + "/interop/check_atlas.py", "--make-edge-cases", QString::fromStdString(edge_)});
        QVERIFY2(made.exitCode == 0, qPrintable(made.out + made.err));
    }

    void agreesWithNumpy_data()
    {
        QTest::addColumn<bool>("edgeCases");
        QTest::addColumn<QString>("score");
        QTest::addColumn<int>("topK");
        QTest::addColumn<int>("batch");
        QTest::newRow("seed CNN captures, max, top 9") << false << "max" << 9 << 5;
        QTest::newRow("seed CNN captures, mean, top 4") << false << "mean" << 4 << 7;
        QTest::newRow("seed CNN captures, K above the image count") << false << "max" << 30 << 22;
        QTest::newRow("NaN, Inf, ties, dead, tokens, max") << true << "max" << 3 << 4;
        QTest::newRow("NaN, Inf, ties, dead, tokens, mean") << true << "mean" << 5 << 1;
    }

    void agreesWithNumpy()
    {
        QFETCH(bool, edgeCases);
        QFETCH(QString, score);
        QFETCH(int, topK);
        QFETCH(int, batch);
        const std::string npz = edgeCases ? edge_ : real_;
        const std::string out = dir_.filePath(QString("atlas-%1").arg(QTest::currentDataTag()).replace(' ', '_')).toStdString();
        build(jobFrom(npz), out, score == "mean" ? AtlasScore::Mean : AtlasScore::Max, topK, batch);
        expectNumpyAgrees(out, npz, qPrintable(score), topK);

        const Atlas atlas = Atlas::open(out);
        QCOMPARE(atlas.images(), jobFrom(npz).images);
        QCOMPARE(atlas.fileOfRow(0), fixtureFiles(1).front());
        if (edgeCases) {
            const AtlasLayer& maps = atlas.layer("maps");
            QVERIFY(maps.statistics[3].dead());   // never above zero
            QVERIFY(!maps.statistics[5].dead());
            QCOMPARE(maps.statistics[1].nan, std::int64_t(11 * 4 * 5));
            QVERIFY(maps.top[1].empty());         // all NaN: no image ranks
            if (score == "max") { // three images tie at 9.0: lowest rows first
                QCOMPARE(maps.top[5][0].row, std::int64_t(2));
                QCOMPARE(maps.top[5][1].row, std::int64_t(7));
            }
            QCOMPARE(atlas.layer("tokens").kind, AtlasCaptureKind::Tokens);
        }
    }

    void shardsMergeToOneRun()
    {
        const Job job = jobFrom(real_);
        const std::string whole = dir_.filePath("whole").toStdString();
        build(job, whole, AtlasScore::Max, 5, 4);
        std::vector<std::string> shards;
        for (int i = 0; i < 3; ++i) {
            shards.push_back(dir_.filePath(QString("shard%1").arg(i)).toStdString());
            build(job, shards.back(), AtlasScore::Max, 5, 3, i, 3);
        }
        const std::string merged = dir_.filePath("merged").toStdString();
        mergeAtlases({shards[2], shards[0], shards[1]}, merged);
        expectNumpyAgrees(merged, real_, "max", 5);

        const Atlas a = Atlas::open(whole), b = Atlas::open(merged);
        QCOMPARE(b.info().shardCount, 1);
        QVERIFY(a.rows() == b.rows());
        QVERIFY(a.files() == b.files());
        QVERIFY(a.predictedClass() == b.predictedClass());
        for (const AtlasLayer& layer : a.layers()) {
            const AtlasLayer& other = b.layer(layer.capture);
            QCOMPARE(maxAbsDifference(a.pooled(layer.capture), b.pooled(layer.capture)), 0.0);
            for (std::int64_t c = 0; c < layer.channels(); ++c) {
                for (std::size_t k = 0; k < layer.top[std::size_t(c)].size(); ++k) {
                    QCOMPARE(other.top[std::size_t(c)][k].row, layer.top[std::size_t(c)][k].row);
                    QCOMPARE(other.bottom[std::size_t(c)][k].row, layer.bottom[std::size_t(c)][k].row);
                }
                const ChannelStatistics& x = layer.statistics[std::size_t(c)];
                const ChannelStatistics& y = other.statistics[std::size_t(c)];
                QCOMPARE(y.values, x.values);
                QCOMPARE(y.active, x.active);
                QVERIFY(std::abs(y.mean - x.mean) <= 1e-12 * (1 + std::abs(x.mean)));
                QVERIFY(std::abs(y.std() - x.std()) <= 1e-12 * (1 + x.std()));
            }
        }
    }

    void mergeNamesWhatIsWrong()
    {
        const Job job = jobFrom(real_);
        std::vector<std::string> shards;
        for (int i = 0; i < 3; ++i) {
            shards.push_back(dir_.filePath(QString("part%1").arg(i)).toStdString());
            build(job, shards.back(), AtlasScore::Max, 3, 8, i, 3);
        }
        const std::string other = dir_.filePath("other-k").toStdString();
        build(job, other, AtlasScore::Max, 4, 8, 2, 3);
        const std::string out = dir_.filePath("merged-bad").toStdString();
        QVERIFY(errorOf([&] { mergeAtlases({shards[0], shards[2]}, out); }).contains("missing shard 1 of 3"));
        QVERIFY(errorOf([&] { mergeAtlases({shards[0], shards[1], shards[1], shards[2]}, out); }).contains("given twice"));
        const QString difference = errorOf([&] { mergeAtlases({shards[0], shards[1], other}, out); });
        QVERIFY2(difference.contains("--top differs (3 vs 4)") && difference.contains("other-k"), qPrintable(difference));
        QVERIFY(!std::filesystem::exists(out));
    }

    void unfinishedAtlasLeavesNothing()
    {
        const Job job = jobFrom(real_);
        const std::string out = dir_.filePath("unfinished").toStdString();
        {
            AtlasInfo info;
            info.captures = job.keys;
            AtlasBuilder builder(out, info);
            builder.add({0}, {"a.png"}, {{"cnn.3", rowsOf(job.captures.at("cnn.3"), 0, 1)},
                                          {"linear.0", rowsOf(job.captures.at("linear.0"), 0, 1)}}, Tensor());
        } // destroyed before finish(): an error or a cancel
        QVERIFY(!std::filesystem::exists(out));
        QVERIFY(QDir(dir_.path()).entryList(QDir::Hidden | QDir::AllEntries | QDir::NoDotAndDotDot).filter("unfinished").isEmpty());

        const QString notAnAtlas = dir_.filePath("photos");
        QVERIFY(QDir().mkpath(notAnAtlas));
        AtlasInfo info;
        info.captures = {"cnn.3"};
        QVERIFY(errorOf([&] { AtlasBuilder(notAnAtlas.toStdString(), info); }).contains("exists and is not an atlas"));

        // Building again over an atlas replaces it.
        const std::string again = dir_.filePath("again").toStdString();
        build(job, again, AtlasScore::Max, 2, 22);
        build(job, again, AtlasScore::Mean, 3, 22);
        QCOMPARE(Atlas::open(again).info().topK, 3);
    }

    void badAtlasFilesGetOneLine_data()
    {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QByteArray>("content");
        QTest::addColumn<QString>("expected");
        QTest::newRow("no atlas.json") << "atlas.json" << QByteArray() << "not an atlas (no atlas.json)";
        QTest::newRow("atlas.json not JSON") << "atlas.json" << QByteArray("{\"format\": ") << "not a LayerScope atlas description";
        QTest::newRow("rows.npy truncated") << "rows.npy" << QByteArray("\x93NUMPY\x01\x00", 8) << "rows.npy";
        QTest::newRow("an image line missing") << "images.jsonl" << QByteArray("\"a.png\"\n") << "lines for";
        QTest::newRow("a top row outside the atlas") << "capture_0/top_rows.npy" << QByteArray("row") << "top_rows.npy";
    }

    void badAtlasFilesGetOneLine()
    {
        QFETCH(QString, file);
        QFETCH(QByteArray, content);
        QFETCH(QString, expected);
        const Job job = jobFrom(real_);
        const QString out = dir_.filePath(QString("bad-%1").arg(QTest::currentDataTag()).replace(' ', '_'));
        build(job, out.toStdString(), AtlasScore::Max, 3, 22);
        const QString target = out + "/" + file;
        if (content.isEmpty()) {
            QVERIFY(QFile::remove(target));
        } else if (content == "row") {
            Tensor rows = readNpy(target.toStdString());
            static_cast<std::int64_t*>(rows.mutableData())[0] = 999;
            writeNpy(target.toStdString(), rows);
        } else {
            QFile f(target);
            QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
            f.write(content);
        }
        const QString message = errorOf([&] { Atlas::open(out.toStdString()); });
        QVERIFY2(message.contains(expected), qPrintable(message));
        QVERIFY2(!message.contains('\n'), qPrintable(message));
    }

    void unknownCaptureSuggests()
    {
        const std::string out = dir_.filePath("suggest").toStdString();
        build(jobFrom(real_), out, AtlasScore::Max, 2, 22);
        const QString message = errorOf([&] { Atlas::open(out).layer("cnn3"); });
        QVERIFY2(message.contains("did you mean 'cnn.3'"), qPrintable(message));
    }

private:
    QTemporaryDir dir_;
    std::string real_, edge_;
};

QTEST_GUILESS_MAIN(AtlasTest)
#include "tst_atlas.moc"
