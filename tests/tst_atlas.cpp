// The atlas's arithmetic and files, against numpy (tests/interop/check_atlas.py) on real captures:
// the seed CNN's forward-hook outputs over the fixture data set, and on edge values (NaN, Inf, ties,
// dead channels, float64 tokens). Shards merge to the atlas of one run; bad atlas files get one line.

#include "layerscope/atlas.h"
#include "layerscope/error.h"
#include "layerscope/npy.h"
#include "layerscope/preprocessing.h"
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
                parts.push_back(rowsOf(tensor, row, 1));
            Tensor joined = Tensor::zeros(
                [&] {
                    auto s = tensor.shape;
                    s[0] = std::int64_t(rows.size());
                    return s;
                }(),
                tensor.dtype);
            for (std::size_t i = 0; i < parts.size(); ++i)
                std::memcpy(static_cast<char*>(joined.mutableData()) + i * parts[i].nbytes(), parts[i].data.get(),
                            parts[i].nbytes());
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
    const ProcessOutcome result
        = runProgram(LAYERSCOPE_PYTHON,
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
                                               {QString(LAYERSCOPE_TESTS_SOURCE_DIR) + "/interop/check_atlas.py",
                                                "--make-edge-cases", QString::fromStdString(edge_)});
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
        const std::string out
            = dir_.filePath(QString("atlas-%1").arg(QTest::currentDataTag()).replace(' ', '_')).toStdString();
        build(jobFrom(npz), out, score == "mean" ? AtlasScore::Mean : AtlasScore::Max, topK, batch);
        expectNumpyAgrees(out, npz, qPrintable(score), topK);

        const Atlas atlas = Atlas::open(out);
        QCOMPARE(atlas.images(), jobFrom(npz).images);
        QCOMPARE(atlas.fileOfRow(0), fixtureFiles(1).front());
        if (edgeCases) {
            const AtlasLayer& maps = atlas.layer("maps");
            QVERIFY(maps.statistics[3].dead()); // never above zero
            QVERIFY(!maps.statistics[5].dead());
            QCOMPARE(maps.statistics[1].nan, std::int64_t(11 * 4 * 5));
            QVERIFY(maps.top[1].empty()); // all NaN: no image ranks
            if (score == "max") {         // three images tie at 9.0: lowest rows first
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
        QVERIFY(errorOf([&] {
                    mergeAtlases({shards[0], shards[1], shards[1], shards[2]}, out);
                }).contains("given twice"));
        const QString difference = errorOf([&] { mergeAtlases({shards[0], shards[1], other}, out); });
        QVERIFY2(difference.contains("--top differs (3 vs 4)") && difference.contains("other-k"),
                 qPrintable(difference));
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
            builder.add({0}, {"a.png"},
                        {{"cnn.3", rowsOf(job.captures.at("cnn.3"), 0, 1)},
                         {"linear.0", rowsOf(job.captures.at("linear.0"), 0, 1)}},
                        Tensor());
        } // destroyed before finish(): an error or a cancel
        QVERIFY(!std::filesystem::exists(out));
        QVERIFY(QDir(dir_.path())
                    .entryList(QDir::Hidden | QDir::AllEntries | QDir::NoDotAndDotDot)
                    .filter("unfinished")
                    .isEmpty());

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
        QTest::newRow("atlas.json not JSON")
            << "atlas.json" << QByteArray("{\"format\": ") << "not a LayerScope atlas description";
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

    void projectionAndNeighboursAgreeWithNumpy_data()
    {
        QTest::addColumn<QString>("capture");
        QTest::newRow("cnn.3 pooled (128 channels)") << "cnn.3";
        QTest::newRow("linear.0 (256 values)") << "linear.0";
        QTest::newRow("edge cases with NaN rows") << "maps";
    }

    void projectionAndNeighboursAgreeWithNumpy()
    {
        QFETCH(QString, capture);
        const bool edge = capture == "maps";
        const std::string out = dir_.filePath("projection-" + capture).toStdString();
        build(jobFrom(edge ? edge_ : real_), out, AtlasScore::Max, 3, 8);
        const Atlas atlas = Atlas::open(out);
        Tensor pooled = atlas.pooled(capture.toStdString());
        if (edge) { // channel 1 is all NaN in every image: drop it, then spoil two rows
            Tensor kept = Tensor::zeros({pooled.shape[0], pooled.shape[1] - 1}, DType::Float32);
            for (std::int64_t i = 0; i < pooled.shape[0]; ++i)
                for (std::int64_t c = 0, k = 0; c < pooled.shape[1]; ++c)
                    if (c != 1)
                        static_cast<float*>(kept.mutableData())[i * kept.shape[1] + k++]
                            = pooled.values<float>()[i * pooled.shape[1] + c];
            static_cast<float*>(kept.mutableData())[3 * kept.shape[1]] = std::nanf("");
            pooled = kept;
        }
        const Projection projection = projectPooled(pooled);
        const std::int64_t row = 5; // in the edge cases, rows 3, 4 and 6 hold NaN or Inf
        const std::vector<Neighbour> neighbours = nearestByCosine(pooled, row, 5);
        QCOMPARE(neighbours.size(), std::size_t(5));
        Tensor x = Tensor::zeros({pooled.shape[0]}, DType::Float32),
               y = Tensor::zeros({pooled.shape[0]}, DType::Float32);
        std::copy(projection.x.begin(), projection.x.end(), static_cast<float*>(x.mutableData()));
        std::copy(projection.y.begin(), projection.y.end(), static_cast<float*>(y.mutableData()));
        Tensor explained = Tensor::zeros({2}, DType::Float64), rowTensor = Tensor::zeros({}, DType::Int64);
        std::copy(projection.explained, projection.explained + 2, static_cast<double*>(explained.mutableData()));
        static_cast<std::int64_t*>(rowTensor.mutableData())[0] = row;
        Tensor indices = Tensor::zeros({5}, DType::Int64), similarities = Tensor::zeros({5}, DType::Float32);
        for (std::size_t i = 0; i < neighbours.size(); ++i) {
            static_cast<std::int64_t*>(indices.mutableData())[i] = neighbours[i].index;
            static_cast<float*>(similarities.mutableData())[i] = neighbours[i].similarity;
        }
        const std::string pooledFile = out + "-pooled.npy", result = out + "-result.npz";
        writeNpy(pooledFile, pooled);
        writeNpz(result,
                 {{"x", x},
                  {"y", y},
                  {"explained", explained},
                  {"row", rowTensor},
                  {"neighbours", indices},
                  {"similarities", similarities}});
        const ProcessOutcome check
            = runProgram(LAYERSCOPE_PYTHON,
                         {QString(LAYERSCOPE_TESTS_SOURCE_DIR) + "/interop/check_atlas.py", "--check-projection",
                          QString::fromStdString(pooledFile), QString::fromStdString(result)});
        QVERIFY2(check.exitCode == 0, qPrintable(check.out + check.err));
    }

    void unknownCaptureSuggests()
    {
        const std::string out = dir_.filePath("suggest").toStdString();
        build(jobFrom(real_), out, AtlasScore::Max, 2, 22);
        const QString message = errorOf([&] { Atlas::open(out).layer("cnn3"); });
        QVERIFY2(message.contains("did you mean 'cnn.3'"), qPrintable(message));
    }

    // End to end: layerscope-cli atlas on the fixture data set (real photographs, a truncated JPEG, a
    // text file named .png) against the seed CNN's forward hooks in Python on the same images.
    void cliAtlasMatchesPythonHooks_data()
    {
        QTest::addColumn<QString>("score");
        QTest::addColumn<QString>("batch");
        QTest::newRow("max, batches of 5") << "max"
                                           << "5";
        QTest::newRow("mean, batches of 16") << "mean"
                                             << "16";
    }

    void cliAtlasMatchesPythonHooks()
    {
        QFETCH(QString, score);
        QFETCH(QString, batch);
        const QString out = dir_.filePath("cli-" + score);
        const ProcessOutcome run
            = runCli({"atlas",    model(),   "--input", dataset(),      "-r",      "--preset", "gray",
                      "--resize", "101x101", "--layer", "cnn.3",        "--layer", "linear.0", "--top",
                      "6",        "--score", score,     "--batch-size", batch,     "--out",    out});
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        QVERIFY2(run.err.contains("atlas of 22 images"), qPrintable(run.err));
        QVERIFY2(run.err.contains("skipped: ") && run.err.contains("img005_truncated.jpg"), qPrintable(run.err));
        expectHooksAgree(out, score);
        const Atlas atlas = Atlas::open(out.toStdString());
        QCOMPARE(atlas.info().modelSha256.size(), std::size_t(64));
        QCOMPARE(atlas.info().skipped.size(), std::size_t(2));
        QCOMPARE(atlas.info().datasetRows, std::int64_t(24)); // the unreadable files keep their rows
    }

    void cliShardsMergeToOneRun()
    {
        const QString whole = dir_.filePath("cli-whole");
        QStringList common = {model(),   "--input", dataset(), "-r",       "--preset", "gray", "--resize", "101x101",
                              "--layer", "cnn.3",   "--layer", "linear.0", "--top",    "4",    "-q"};
        QCOMPARE(runCli(QStringList {"atlas"} + common + QStringList {"--out", whole}).exitCode, 0);
        QStringList shards;
        for (int i = 0; i < 4; ++i) {
            shards << dir_.filePath(QString("cli-shard%1").arg(i));
            const ProcessOutcome part
                = runCli(QStringList {"atlas"} + common
                         + QStringList {"--shard", QString("%1/4").arg(i), "--out", shards.back()});
            QVERIFY2(part.exitCode == 0, qPrintable(part.err));
        }
        const QString merged = dir_.filePath("cli-merged");
        const ProcessOutcome merge = runCli(QStringList {"atlas-merge"} + shards + QStringList {"--out", merged});
        QVERIFY2(merge.exitCode == 0 && merge.err.contains("merged 4 shards (22 images)"), qPrintable(merge.err));
        expectHooksAgree(merged, "max", "4");
        for (const char* layer : {"cnn.3", "linear.0"}) {
            for (const QStringList& view :
                 {QStringList {"--channel", "7"}, QStringList {"--channel", "7", "--bottom"}, QStringList {"--dead"}}) {
                const ProcessOutcome a = runCli(QStringList {"atlas-show", whole, "--layer", layer} + view);
                const ProcessOutcome b = runCli(QStringList {"atlas-show", merged, "--layer", layer} + view);
                QCOMPARE(a.exitCode, 0);
                QCOMPARE(b.out, a.out);
            }
        }
        const ProcessOutcome missing
            = runCli({"atlas-merge", shards[0], shards[1], shards[3], "--out", dir_.filePath("cli-bad")});
        QCOMPARE(missing.exitCode, 1);
        QVERIFY2(missing.err.contains("missing shard 2 of 4"), qPrintable(missing.err));
    }

    void cliAtlasShowPrintsTabSeparatedLines()
    {
        const QString out = dir_.filePath("cli-show");
        // A relative --input: files are printed as given, joined with their path inside the folder.
        const QDir fixtures(LAYERSCOPE_FIXTURES_DIR);
        const ProcessOutcome run
            = runCliIn(fixtures.path(),
                       {"atlas", model(), "--input", "dataset", "-r", "--preset", "gray", "--resize", "101x101",
                        "--layer", "cnn.3", "--layer", "linear.0", "--layer", "output", "-q", "--out", out});
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        const Atlas atlas = Atlas::open(out.toStdString());

        const QStringList top
            = runCli({"atlas-show", out, "--layer", "cnn.3", "--channel", "12"}).out.split('\n', Qt::SkipEmptyParts);
        QCOMPARE(top.size(), 9); // --top defaults to 9
        const auto& entries = atlas.layer("cnn.3").top[12];
        for (int i = 0; i < top.size(); ++i) {
            const QStringList fields = top[i].split('\t');
            QCOMPARE(fields.size(), 5);
            QCOMPARE(fields[0], QString::number(i + 1));
            QVERIFY2(fields[1].startsWith("dataset/img") || fields[1].startsWith("dataset/sub/img"),
                     qPrintable(fields[1]));
            QCOMPARE(fields[2].toFloat(), entries[std::size_t(i)].score); // shortest text, read back exactly
            QCOMPARE(fields[3], QString::number(entries[std::size_t(i)].y));
            QCOMPARE(fields[4], QString::number(entries[std::size_t(i)].x));
        }
        const QStringList vector
            = runCli({"atlas-show", out, "--layer", "linear.0", "--channel", "3"}).out.split('\n', Qt::SkipEmptyParts);
        QVERIFY(vector.front().endsWith("\t\t")); // no position in a vector
        const QStringList stats
            = runCli({"atlas-show", out, "--layer", "cnn.3", "--stats"}).out.split('\n', Qt::SkipEmptyParts);
        QCOMPARE(stats.size(), 128);
        QCOMPARE(stats[5].split('\t').size(), 8);
        QCOMPARE(stats[5].split('\t')[0], QString("5"));
        QCOMPARE(stats[5].split('\t')[1].toDouble(), atlas.layer("cnn.3").statistics[5].mean);
        const QStringList dead
            = runCli({"atlas-show", out, "--layer", "cnn.3", "--dead"}).out.split('\n', Qt::SkipEmptyParts);
        int expectedDead = 0;
        for (const ChannelStatistics& s : atlas.layer("cnn.3").statistics)
            expectedDead += s.dead() ? 1 : 0;
        QCOMPARE(dead.size(), expectedDead);
        QCOMPARE(runCli({"atlas-show", out, "--layer", "output", "--channel", "0"}).exitCode, 0);

        const ProcessOutcome range = runCli({"atlas-show", out, "--layer", "cnn.3", "--channel", "128"});
        QCOMPARE(range.exitCode, 1);
        QVERIFY2(range.err.contains("'cnn.3' has 128 channels (0..127)"), qPrintable(range.err));
        const ProcessOutcome unknown = runCli({"atlas-show", out, "--layer", "cnn3", "--stats"});
        QVERIFY2(unknown.exitCode == 1 && unknown.err.contains("did you mean 'cnn.3'"), qPrintable(unknown.err));
        const ProcessOutcome nothing = runCli({"atlas-show", out, "--layer", "cnn.3"});
        QVERIFY2(nothing.exitCode != 0 && nothing.err.contains("--channel"), qPrintable(nothing.err));
    }

    void cliAtlasRefusesWhatItCannotScore()
    {
        const ProcessOutcome unknown
            = runCli({"atlas", model(), "--input", dataset(), "-r", "--preset", "gray", "--resize", "101x101",
                      "--layer", "cnn.33", "--out", dir_.filePath("cli-unknown")});
        QCOMPARE(unknown.exitCode, 1);
        QVERIFY2(unknown.err.contains("cnn.3") && unknown.err.count('\n') == 1, qPrintable(unknown.err));
        QVERIFY(!QFileInfo::exists(dir_.filePath("cli-unknown")));
        const ProcessOutcome noLayer
            = runCli({"atlas", model(), "--input", dataset(), "--out", dir_.filePath("cli-none")});
        QVERIFY(noLayer.exitCode != 0 && noLayer.err.contains("--layer"));
    }

    void cancelledPassWritesNothing()
    {
        AtlasJob job;
        job.run.inputs = {dataset().toStdString()};
        job.run.recursive = true;
        job.run.preprocessing = Preprocessing::gray(101, 101);
        job.run.batchSize = 4;
        job.run.outputPath = dir_.filePath("cancelled").toStdString();
        job.captures = {"cnn.3"};
        int batches = 0;
        const AtlasResult result
            = buildAtlas(model().toStdString(), job, [&](const ExtractionProgress&) { return ++batches < 2; });
        QVERIFY(result.cancelled);
        QCOMPARE(result.images, std::int64_t(7)); // two batches of 4 files, one of them a truncated JPEG
        QVERIFY(!QFileInfo::exists(dir_.filePath("cancelled")));
        QVERIFY(QDir(dir_.path())
                    .entryList(QDir::Hidden | QDir::AllEntries | QDir::NoDotAndDotDot)
                    .filter("cancelled")
                    .isEmpty());
    }

private:
    static QString model() { return QDir(LAYERSCOPE_FIXTURES_DIR).filePath("seed_cnn_scripted/model.pt"); }
    static QString dataset() { return QDir(LAYERSCOPE_FIXTURES_DIR).filePath("dataset"); }
    static ProcessOutcome runCli(const QStringList& arguments) { return runProgram(LAYERSCOPE_CLI, arguments); }
    static ProcessOutcome runCliIn(const QString& folder, const QStringList& arguments)
    {
        const QString previous = QDir::currentPath();
        QDir::setCurrent(folder);
        ProcessOutcome outcome = runProgram(LAYERSCOPE_CLI, arguments);
        QDir::setCurrent(previous);
        return outcome;
    }
    void expectHooksAgree(const QString& atlas, const QString& score, const QString& top = "6")
    {
        const ProcessOutcome check
            = runProgram(LAYERSCOPE_PYTHON,
                         {QString(LAYERSCOPE_TESTS_SOURCE_DIR) + "/interop/check_atlas.py", atlas,
                          QString::fromStdString(real_), "--score", score, "--top", top, "--files",
                          QString::fromStdString(fixtureFile("dataset_files.json")), "--rtol", "1e-5"});
        QVERIFY2(check.exitCode == 0, qPrintable(check.out + check.err));
    }

    QTemporaryDir dir_;
    std::string real_, edge_;
};

QTEST_GUILESS_MAIN(AtlasTest)
#include "tst_atlas.moc"
