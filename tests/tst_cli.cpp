// layerscope-cli as a user runs it: exit codes, messages, and .npz files that numpy reads back.

#include "cliarguments.h"
#include "layerscope/error.h"
#include "layerscope/extraction.h"
#include "layerscope/job.h"
#include "testsupport.h"

#include <QFileSystemWatcher>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QSignalSpy>

#include <QTemporaryDir>
#include <QtTest>
#include <csignal>

using namespace layerscope::test;

namespace {

using Outcome = ProcessOutcome;

Outcome cli(const QStringList& arguments) { return runProgram(LAYERSCOPE_CLI, arguments); }

QString fixture(const QString& caseName, const QString& file)
{
    return QString::fromStdString(fixturePath(caseName, file));
}

// extract with the seed CNN over the fixture data set, grayscale at 101x101, then `more`.
QStringList seedOverDataset(const QStringList& more)
{
    return QStringList {"extract",  fixture("seed_cnn_scripted", "model.pt"),
                        "--input",  QString(LAYERSCOPE_FIXTURES_DIR) + "/dataset",
                        "--preset", "gray",
                        "--resize", "101"}
    + more;
}

// numpy itself reads the file: every reference array is there, float32 stays float32, values match.
const char* const kCompareWithNumpy = R"(
import sys, numpy as np
out = np.load(sys.argv[1])
for reference_path in sys.argv[2:]:
    reference = np.load(reference_path)
    for key in reference.files:
        assert key in out.files, f"missing {key}"
        assert out[key].dtype == reference[key].dtype, f"{key}: {out[key].dtype} != {reference[key].dtype}"
        assert out[key].shape == reference[key].shape, f"{key}: {out[key].shape} != {reference[key].shape}"
        difference = float(np.abs(out[key].astype(np.float64) - reference[key]).max()) if out[key].size else 0.0
        assert difference <= 1e-5, f"{key}: {difference}"
print(len(out.files))
)";

} // namespace

class TestCli : public QObject {
    Q_OBJECT

private slots:
    void resumeAfterSigkillGivesTheUninterruptedOutput_data();
    void resumeAfterSigkillGivesTheUninterruptedOutput();
    void resumeOfAnotherJobIsRefused();
    void aCompleteRunReplacesAStaleResumeState();
    void atlasResumeAfterSigkillGivesTheUninterruptedAtlas();
    void modulesPrintsTheTree();
    void extractAllWritesWhatNumpyReadsBack();
    void extractChosenLayersOnly();
    void extractFolderWithShardAndPreprocessing();
    void shardAutoTakesTheSlurmArrayTask();
    void slurmArraysThatNameNoShardAreRefused();
    void mergedShardsEqualOneRun();
    void mergeStreamsRowsInsteadOfHoldingShards();
    void hdf5OutputIsChunkedCompressedAndEqual();
    void matTooLargeIsRefusedAfterTheFirstBatch();
    void matVersion73IsReadBackByH5py();
    void poolingAndHalfPrecisionEqualNumpy_data();
    void poolingAndHalfPrecisionEqualNumpy();
    void bfloat16ModelExtractsWhatTorchComputes();
    void float16CapturesArePooledAsNumpyPools();
    void ctrlCKeepsCompleteRows();
    void fullDiskLeavesNoFile();
    void errorsAreOneLineAndNonZero_data();
    void errorsAreOneLineAndNonZero();
    void untrustedModelNeedsTrustModel();
};

void TestCli::modulesPrintsTheTree()
{
    const Outcome result = cli({"modules", QString(LAYERSCOPE_EXAMPLES_DIR) + "/seed_nested.pt"});
    QCOMPARE(result.exitCode, 0);
    const QStringList lines = result.out.split('\n', Qt::SkipEmptyParts);
    QVERIFY2(lines[0].endsWith("forward(x: Tensor, y: Tensor) -> Tensor"), qPrintable(lines[0]));
    QCOMPARE(lines.size(), 2 + 35); // signature, header, 35 modules as named_modules() lists them
    QVERIFY(lines.filter(QRegularExpression(R"(^\s+feature_model\.cnn\.3\.0\s+Conv2d\s+73,856$)")).size() == 1);
    QVERIFY(lines.filter(QRegularExpression(R"(^\(model\)\s+SeedNested\s+246,628$)")).size() == 1);
}

void TestCli::extractAllWritesWhatNumpyReadsBack()
{
    QTemporaryDir dir;
    const QString out = dir.filePath("nested.npz");
    const Outcome result
        = cli({"extract", fixture("nested_scripted", "model.pt"), "--input", fixture("nested_scripted", "input0.npy"),
               "--input", fixture("nested_scripted", "input1.npy"), "--all", "--with-inputs", "--out", out});
    QVERIFY2(result.exitCode == 0, qPrintable(result.err));
    QVERIFY2(result.err.contains("not executed: encoder.linear1"), qPrintable(result.err));
    const Outcome numpy = runProgram(LAYERSCOPE_PYTHON,
                                     {"-c", kCompareWithNumpy, out, fixture("nested_scripted", "reference.npz"),
                                      fixture("nested_scripted", "reference_inputs.npz")});
    QVERIFY2(numpy.exitCode == 0, qPrintable(numpy.err));
}

void TestCli::extractChosenLayersOnly()
{
    QTemporaryDir dir;
    const QString out = dir.filePath("resnet.npz");
    const Outcome result
        = cli({"extract", fixture("resnet18_traced", "model.pt"), "-i", fixture("resnet18_traced", "input0.npy"),
               "--layer", "layer1", "--layer", "avgpool", "--layer", "layer1.0.relu", "-o", out});
    QVERIFY2(result.exitCode == 0, qPrintable(result.err));
    const Outcome keys = runProgram(
        LAYERSCOPE_PYTHON, {"-c", "import sys, numpy as np; print(' '.join(sorted(np.load(sys.argv[1]).files)))", out});
    QCOMPARE(keys.out.trimmed(), QString("avgpool layer1 layer1.0.relu layer1.0.relu:1 output"));
}

void TestCli::extractFolderWithShardAndPreprocessing()
{
    QTemporaryDir dir;
    const QString out = dir.filePath("features");
    const Outcome result
        = cli({"extract", fixture("seed_cnn_scripted", "model.pt"), "--input",
               QString(LAYERSCOPE_FIXTURES_DIR) + "/dataset", "--recursive", "--preset", "gray", "--resize", "101",
               "--batch-size", "4", "--shard", "1/2", "--layer", "linear.0", "--out", out});
    QVERIFY2(result.exitCode == 0, qPrintable(result.err));
    // 24 files, every second from index 1: 12, of which img007_fake.png (index 9) is unreadable.
    QVERIFY2(result.err.contains("wrote 11 rows of 2 arrays"), qPrintable(result.err));
    QVERIFY2(result.err.contains("1 input skipped"), qPrintable(result.err));
    QVERIFY2(result.err.contains("img007_fake.png: not a PNG image"), qPrintable(result.err));
    const Outcome numpy = runProgram(
        LAYERSCOPE_PYTHON,
        {"-c",
         "import sys, json, numpy as np; m = json.load(open(sys.argv[1] + '/manifest.json')); "
         "a = np.load(sys.argv[1] + '/linear.0.npy'); assert a.shape == (11, 256) and a.dtype == np.float32; "
         "assert [r['dataset_index'] % 2 for r in m['rows']] == [1] * 11; assert m['shard'] == {'index': 1, 'count': "
         "2, "
         "'dataset_size': 24}; assert len(m['skipped_inputs']) == 1; print('ok')",
         out});
    QVERIFY2(numpy.exitCode == 0, qPrintable(numpy.err));
}

// An array task of `sbatch --array=0-2`: task 1 writes what --shard 1/3 writes, the same rows.
void TestCli::shardAutoTakesTheSlurmArrayTask()
{
    QTemporaryDir dir;
    const QStringList run = seedOverDataset({"--layer", "linear.0"});
    const Outcome given = cli(run + QStringList {"--shard", "1/3", "--out", dir.filePath("given.npz")});
    QVERIFY2(given.exitCode == 0, qPrintable(given.err));
    qputenv("SLURM_ARRAY_TASK_ID", "1");
    qputenv("SLURM_ARRAY_TASK_MIN", "0");
    qputenv("SLURM_ARRAY_TASK_MAX", "2");
    qputenv("SLURM_ARRAY_TASK_COUNT", "3");
    const Outcome automatic = cli(run + QStringList {"--shard", "auto", "--out", dir.filePath("auto.npz")});
    for (const char* name :
         {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX", "SLURM_ARRAY_TASK_COUNT"})
        qunsetenv(name);
    QVERIFY2(automatic.exitCode == 0, qPrintable(automatic.err));
    const Outcome same
        = runProgram(LAYERSCOPE_PYTHON,
                     {"-c",
                      "import sys, json, numpy as np; a, b = np.load(sys.argv[1]), np.load(sys.argv[2]); "
                      "assert a.files == b.files and all((a[k] == b[k]).all() for k in a.files); "
                      "m = json.load(open(sys.argv[2] + '.manifest.json')); assert m['shard']['index'] == 1 and "
                      "m['shard']['count'] == 3, m['shard']; print(a['linear.0'].shape[0])",
                      dir.filePath("given.npz"), dir.filePath("auto.npz")});
    QVERIFY2(same.exitCode == 0 && same.out.trimmed().toInt() > 0, qPrintable(same.err + same.out));

    const Outcome outside = cli(run + QStringList {"--shard", "auto", "--out", dir.filePath("none.npz")});
    QCOMPARE(outside.exitCode, 1);
    QVERIFY2(outside.err.contains("SLURM_ARRAY_TASK_ID is not set") && outside.err.contains("JOB_COMPLETION_INDEX"),
             qPrintable(outside.err));
}

void TestCli::slurmArraysThatNameNoShardAreRefused()
{
    using Environment = std::map<std::string, std::string>;
    auto shardOf = [](const Environment& environment) {
        return layerscope::cli::slurmArrayShard([&](const char* name) -> const char* {
            const auto found = environment.find(name);
            return found == environment.end() ? nullptr : found->second.c_str();
        });
    };
    auto errorOf = [&](const Environment& environment) {
        try {
            shardOf(environment);
        } catch (const layerscope::Error& error) {
            return QString(error.what());
        }
        return QString("no error");
    };
    // --array=4-7: task 6 is shard 2 of 4; --array=0-15:4 (tasks 0, 4, 8, 12): task 8 is shard 2 of 4.
    QCOMPARE(shardOf({{"SLURM_ARRAY_TASK_ID", "6"}, {"SLURM_ARRAY_TASK_MIN", "4"}, {"SLURM_ARRAY_TASK_MAX", "7"}}),
             std::make_pair(2, 4));
    QCOMPARE(shardOf({{"SLURM_ARRAY_TASK_ID", "8"},
                      {"SLURM_ARRAY_TASK_MIN", "0"},
                      {"SLURM_ARRAY_TASK_MAX", "12"},
                      {"SLURM_ARRAY_TASK_STEP", "4"},
                      {"SLURM_ARRAY_TASK_COUNT", "4"}}),
             std::make_pair(2, 4));
    QCOMPARE(shardOf({{"SLURM_ARRAY_TASK_ID", "0"}, {"SLURM_ARRAY_TASK_COUNT", "5"}}), std::make_pair(0, 5));
    QVERIFY(errorOf({{"SLURM_ARRAY_TASK_ID", "3"}}).contains("the array's size is unknown"));
    QVERIFY(errorOf({{"SLURM_ARRAY_TASK_ID", "5"},
                     {"SLURM_ARRAY_TASK_MIN", "1"},
                     {"SLURM_ARRAY_TASK_MAX", "7"},
                     {"SLURM_ARRAY_TASK_COUNT", "3"}})
                .contains("not a range: submit it as --array=0-2")); // --array=1,5,7
    QVERIFY(errorOf({{"SLURM_ARRAY_TASK_ID", "x"}, {"SLURM_ARRAY_TASK_COUNT", "2"}}).contains("is not a task number"));
}

// Three shards merged (.npz, a folder of .npy, .h5) give the arrays and rows of one run;
// a missing, doubled or foreign shard is named.
void TestCli::mergedShardsEqualOneRun()
{
    QTemporaryDir dir;
    const QStringList run
        = seedOverDataset({"--recursive", "--batch-size", "3", "--layer", "cnn.3", "--layer", "linear.0", "--quiet"});
    const Outcome whole = cli(run + QStringList {"--out", dir.filePath("whole.npz")});
    QVERIFY2(whole.exitCode == 0, qPrintable(whole.err));
    const QStringList shards {dir.filePath("s0.npz"), dir.filePath("s1"), dir.filePath("s2.h5")};
    for (int i = 0; i < 3; ++i) {
        const Outcome shard = cli(run + QStringList {"--shard", QString("%1/3").arg(i), "--out", shards[i]});
        QVERIFY2(shard.exitCode == 0, qPrintable(shard.err));
    }
    const Outcome merged = cli(QStringList {"merge"} + shards + QStringList {"--out", dir.filePath("merged.npz")});
    QVERIFY2(merged.exitCode == 0 && merged.err.contains("merged 3 shards: 22 rows of 3 arrays")
                 && merged.err.contains("progress: 22/22 rows"),
             qPrintable(merged.err));
    const Outcome same = runProgram(
        LAYERSCOPE_PYTHON,
        {"-c",
         "import sys, json, numpy as np; a, b = np.load(sys.argv[1]), np.load(sys.argv[2]); "
         "assert sorted(a.files) == sorted(b.files), (a.files, b.files); "
         "assert all(a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and (a[k] == b[k]).all() for k in a.files); "
         "ma, mb = (json.load(open(p + '.manifest.json')) for p in sys.argv[1:3]); "
         "assert [r['dataset_index'] for r in ma['rows']] == [r['dataset_index'] for r in mb['rows']]; "
         "assert [r['files'] for r in ma['rows']] == [r['files'] for r in mb['rows']]; "
         "assert mb['shard'] == {'index': 0, 'count': 1, 'dataset_size': 24} and len(mb['merged_from']) == 3; "
         "assert len(mb['skipped_inputs']) == 2; print(a['linear.0'].shape[0])",
         dir.filePath("whole.npz"), dir.filePath("merged.npz")});
    QVERIFY2(same.exitCode == 0 && same.out.trimmed() == "22", qPrintable(same.err + same.out));

    // MATLAB shards, v5 and v7.3, and torch.save shards (read without LibTorch) merge the same.
    const QStringList matShards {dir.filePath("m0.mat"), dir.filePath("m1.mat"), dir.filePath("p2.pt")};
    QVERIFY(cli(run + QStringList {"--shard", "0/3", "--out", matShards[0]}).exitCode == 0);
    QVERIFY(cli(run + QStringList {"--shard", "1/3", "--mat-version", "7.3", "--out", matShards[1]}).exitCode == 0);
    QVERIFY(cli(run + QStringList {"--shard", "2/3", "--out", matShards[2]}).exitCode == 0);
    const Outcome fromMat = cli(QStringList {"merge"} + matShards + QStringList {"--out", dir.filePath("frommat.npz")});
    QVERIFY2(fromMat.exitCode == 0, qPrintable(fromMat.err));
    const auto expected = readNpzAsMap(dir.filePath("whole.npz").toStdString());
    const auto got = readNpzAsMap(dir.filePath("frommat.npz").toStdString());
    QCOMPARE(got.size(), expected.size());
    for (const auto& [key, tensor] : expected) {
        QVERIFY2(got.count(key) && got.at(key).shape == tensor.shape && got.at(key).dtype == tensor.dtype, key.c_str());
        QVERIFY2(maxAbsDifference(got.at(key), tensor) == 0, key.c_str());
    }

    // Mixed formats keep names differently (MATLAB variables, file names): each shard's own manifest says where.
    const Outcome mixed = cli({"merge", matShards[0], shards[1], matShards[2], "--out", dir.filePath("mixed.npz")});
    QVERIFY2(mixed.exitCode == 0, qPrintable(mixed.err));
    const auto fromMixed = readNpzAsMap(dir.filePath("mixed.npz").toStdString());
    for (const auto& [key, tensor] : expected)
        QVERIFY2(fromMixed.count(key) && maxAbsDifference(fromMixed.at(key), tensor) == 0, key.c_str());

    const Outcome missing = cli({"merge", shards[0], shards[2], "--out", dir.filePath("missing.npz")});
    QVERIFY2(missing.exitCode == 1 && missing.err.contains("missing shard 1/3"), qPrintable(missing.err));
    const Outcome twice = cli({"merge", shards[0], shards[1], shards[1], "--out", dir.filePath("twice.npz")});
    QVERIFY2(twice.exitCode == 1 && twice.err.contains("shard 1/3 is given twice"), qPrintable(twice.err));
    QStringList foreignRun = run;
    foreignRun[1] = fixture("seed_cnn_traced", "model.pt");
    QVERIFY(cli(foreignRun + QStringList {"--shard", "1/3", "--out", dir.filePath("foreign.npz")}).exitCode == 0);
    const Outcome foreign
        = cli({"merge", shards[0], dir.filePath("foreign.npz"), shards[2], "--out", dir.filePath("f.npz")});
    QVERIFY2(foreign.exitCode == 1 && foreign.err.contains("its model (SHA-256) differs"), qPrintable(foreign.err));
    // A damaged shard: its manifest is fine, the file is not HDF5.
    QVERIFY(QFile::copy(shards[2] + ".manifest.json", dir.filePath("bad.h5.manifest.json")));
    QFile bad(dir.filePath("bad.h5"));
    QVERIFY(bad.open(QIODevice::WriteOnly) && bad.write(QByteArray(4096, 'x')) == 4096);
    bad.close();
    const Outcome damaged
        = cli({"merge", shards[0], shards[1], dir.filePath("bad.h5"), "--out", dir.filePath("d.npz")});
    QVERIFY2(damaged.exitCode == 1 && damaged.err.contains("bad.h5: not an HDF5 file"), qPrintable(damaged.err));
    // A crafted manifest (a row's index a string): named, one line.
    QFile manifest(shards[0] + ".manifest.json");
    QVERIFY(manifest.open(QIODevice::ReadOnly));
    QByteArray text = manifest.readAll();
    manifest.close();
    QVERIFY(text.contains("\"dataset_index\":0"));
    text.replace("\"dataset_index\":0", "\"dataset_index\":\"0\"");
    QVERIFY(QFile::copy(shards[0], dir.filePath("crafted.npz")));
    QFile crafted(dir.filePath("crafted.npz.manifest.json"));
    QVERIFY(crafted.open(QIODevice::WriteOnly) && crafted.write(text) == text.size());
    crafted.close();
    const Outcome bent
        = cli({"merge", dir.filePath("crafted.npz"), shards[1], shards[2], "--out", dir.filePath("c.npz")});
    QVERIFY2(bent.exitCode == 1 && bent.err.contains("crafted.npz.manifest.json: not a LayerScope extract manifest")
                 && bent.err.count('\n') == 1,
             qPrintable(bent.err));
    // A copy of shard 0 (an .npz) named `name`, its manifest `m` (rows: `rows`) changed by the Python `edit`.
    auto editedCopy = [&](const QString& name, const char* edit) {
        return runProgram(LAYERSCOPE_PYTHON,
                          {"-c",
                           QString("import sys, json, shutil; a, b = sys.argv[1], sys.argv[2]; shutil.copy(a, b); "
                                   "m = json.load(open(a + '.manifest.json')); rows = m['rows']; %1; "
                                   "json.dump(m, open(b + '.manifest.json', 'w'))")
                               .arg(edit),
                           shards[0], dir.filePath(name)});
    };
    // A shard that claims to be 1/3 but holds 0/3's rows: the first doubled data-set row is named.
    const Outcome relabelled = editedCopy("relabelled.npz", "m['shard']['index'] = 1");
    QVERIFY2(relabelled.exitCode == 0, qPrintable(relabelled.err));
    const Outcome doubled = cli(
        {"merge", shards[0], dir.filePath("relabelled.npz"), shards[2], "--quiet", "--out", dir.filePath("dd.npz")});
    QVERIFY2(doubled.exitCode == 1
                 && doubled.err.contains("data-set row 0 is in two shards: " + shards[0] + " and "
                                         + dir.filePath("relabelled.npz")),
             qPrintable(doubled.err));

    // A shard whose array holds rows of another shape than the others: named, never read past its rows.
    const Outcome reshaped = runProgram(
        LAYERSCOPE_PYTHON,
        {"-c",
         "import sys, shutil, pathlib, numpy as np; a, b = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]); "
         "shutil.copytree(a, b); rows = np.load(a / 'cnn.3.npy').shape[0]; "
         "np.save(b / 'cnn.3.npy', np.zeros((rows, 5), np.float32))",
         shards[1], dir.filePath("reshaped")});
    QVERIFY2(reshaped.exitCode == 0, qPrintable(reshaped.err));
    const Outcome wrongRows
        = cli({"merge", shards[0], dir.filePath("reshaped"), shards[2], "--quiet", "--out", dir.filePath("r.npz")});
    QVERIFY2(wrongRows.exitCode == 1 && wrongRows.err.contains("reshaped: 'cnn.3' holds rows of [5] float32, but ")
                 && wrongRows.err.count('\n') == 1,
             qPrintable(wrongRows.err));

    // Rows a shard's manifest lists out of order, outside the data set, or past its arrays: named, one line,
    // before anything is written (merge reads the rows in data-set order from every shard at once).
    auto editedShard = [&](const QString& name, const char* edit) {
        const Outcome made = editedCopy(name, edit);
        return made.exitCode == 0
            ? cli({"merge", dir.filePath(name), shards[1], shards[2], "--quiet", "--out", dir.filePath("e.npz")})
            : made;
    };
    const Outcome unordered = editedShard("unordered.npz", "rows[0], rows[1] = rows[1], rows[0]");
    QVERIFY2(unordered.exitCode == 1 && unordered.err.contains("unordered.npz.manifest.json: ")
                 && unordered.err.contains("its rows are not in data-set order (dataset_index 0 after 3)")
                 && unordered.err.count('\n') == 1,
             qPrintable(unordered.err));
    const Outcome negative = editedShard("negative.npz", "rows[0]['dataset_index'] = -5");
    QVERIFY2(negative.exitCode == 1 && negative.err.contains("negative.npz.manifest.json: ")
                 && negative.err.contains("a row's dataset_index is -5"),
             qPrintable(negative.err));
    const Outcome outside = editedShard("outside.npz", "rows[-1]['dataset_index'] = 1000");
    QVERIFY2(outside.exitCode == 1
                 && outside.err.contains("outside.npz.manifest.json: names data-set row 1000, but the data set has 24 "
                                         "rows")
                 && outside.err.count('\n') == 1,
             qPrintable(outside.err));
    const Outcome pastArrays = editedShard("past.npz", "rows[-1]['row'] = 500");
    QVERIFY2(pastArrays.exitCode == 1
                 && pastArrays.err.contains("past.npz: 'cnn.3' has 6 rows, but its manifest names row 500")
                 && pastArrays.err.count('\n') == 1,
             qPrintable(pastArrays.err));
    for (const char* never : {"missing.npz", "twice.npz", "f.npz", "d.npz", "c.npz", "r.npz", "dd.npz", "e.npz"})
        QVERIFY(!QFile::exists(dir.filePath(never)));

    // A .csv names each row after its input file: merged, it is the unsharded run's file byte for byte.
    QVERIFY(cli(run + QStringList {"--out", dir.filePath("whole.csv")}).exitCode == 0);
    const Outcome toCsv = cli(QStringList {"merge"} + shards + QStringList {"--quiet", "--out", dir.filePath("m.csv")});
    QVERIFY2(toCsv.exitCode == 0, qPrintable(toCsv.err));
    QFile wholeCsv(dir.filePath("whole.csv")), mergedCsv(dir.filePath("m.csv"));
    QVERIFY(wholeCsv.open(QIODevice::ReadOnly) && mergedCsv.open(QIODevice::ReadOnly));
    const QByteArray csvText = wholeCsv.readAll();
    QVERIFY(csvText.contains("img000") && csvText.count('\n') == 23);
    QCOMPARE(mergedCsv.readAll(), csvText);
}

// merge reads rows where they lie and writes them a block at a time: merging 70 MB of shards (every
// module of the seed CNN, over several blocks) takes less than half of that more memory than merging
// one small layer, and gives the unsharded run's arrays. It opens every shard's files at once.
void TestCli::mergeStreamsRowsInsteadOfHoldingShards()
{
    QTemporaryDir dir;
    const char* const peakMemory = "import resource, subprocess, sys\n"
                                   "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
                                   "assert r.returncode == 0, r.stderr\n"
                                   "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)";
    auto mergePeak = [&](const QStringList& layers, const QString& name) -> qint64 {
        const QStringList run = seedOverDataset(QStringList {"--recursive", "--batch-size", "3", "--quiet"} + layers);
        QStringList shards;
        for (int i = 0; i < 3; ++i) {
            shards << dir.filePath(QString("%1%2").arg(name).arg(i));
            if (cli(run + QStringList {"--shard", QString("%1/3").arg(i), "--out", shards.last()}).exitCode != 0)
                return -1;
        }
        if (cli(run + QStringList {"--out", dir.filePath(name + "_whole")}).exitCode != 0)
            return -1;
        const Outcome merged = runProgram(LAYERSCOPE_PYTHON,
                                          QStringList {"-c", peakMemory, LAYERSCOPE_CLI, "merge"} + shards
                                              + QStringList {"--out", dir.filePath(name + "_merged")});
        return merged.exitCode == 0 ? merged.out.trimmed().toLongLong() : -1;
    };
    const qint64 small = mergePeak({"--layer", "linear.0"}, "small");
    const qint64 large = mergePeak({"--all"}, "all");
    QVERIFY(small > 0 && large > 0);
    qint64 shardBytes = 0;
    for (int i = 0; i < 3; ++i)
        for (const QFileInfo& file : QDir(dir.filePath(QString("all%1").arg(i))).entryInfoList({"*.npy"}))
            shardBytes += file.size();
    QVERIFY2(shardBytes > 60'000'000, qPrintable(QString::number(shardBytes)));
#ifndef __SANITIZE_ADDRESS__ // ASan's quarantine keeps freed blocks: the peak says nothing under it
    QVERIFY2(large - small < shardBytes / 2,
             qPrintable(QString("peak %1 MB against %2 MB for one layer, shards of %3 MB")
                            .arg(large >> 20)
                            .arg(small >> 20)
                            .arg(shardBytes >> 20)));
#endif
    const Outcome same
        = runProgram(LAYERSCOPE_PYTHON,
                     {"-c",
                      "import sys, json, pathlib, numpy as np\n"
                      "a, b = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])\n"
                      "names = sorted(p.name for p in a.glob('*.npy'))\n"
                      "assert names == sorted(p.name for p in b.glob('*.npy')) and len(names) == 26, names\n"
                      "for n in names:\n"
                      "    x, y = np.load(a / n), np.load(b / n)\n"
                      "    assert x.dtype == y.dtype and x.shape == y.shape and (x == y).all(), n\n"
                      "ma, mb = (json.load(open(p / 'manifest.json')) for p in (a, b))\n"
                      "assert [r['files'] for r in ma['rows']] == [r['files'] for r in mb['rows']]\n"
                      "print(len(ma['rows']))",
                      dir.filePath("all_whole"), dir.filePath("all_merged")});
    QVERIFY2(same.exitCode == 0 && same.out.trimmed() == "22", qPrintable(same.err + same.out));

    // Into .pt too: its storages are copied from the staged files into the archive, never held whole;
    // torch.load reads the arrays of the unsharded run.
    const Outcome toPt = runProgram(LAYERSCOPE_PYTHON,
                                    QStringList {"-c", peakMemory, LAYERSCOPE_CLI, "merge"}
                                        + QStringList {dir.filePath("all0"), dir.filePath("all1"), dir.filePath("all2")}
                                        + QStringList {"--out", dir.filePath("all_merged.pt")});
    QVERIFY2(toPt.exitCode == 0, qPrintable(toPt.err));
#ifndef __SANITIZE_ADDRESS__
    QVERIFY2(toPt.out.trimmed().toLongLong() - small < shardBytes / 2,
             qPrintable(QString("peak %1 MB merging into .pt, shards of %2 MB")
                            .arg(toPt.out.trimmed().toLongLong() >> 20)
                            .arg(shardBytes >> 20)));
#endif
    const Outcome samePt = runProgram(
        LAYERSCOPE_PYTHON,
        {"-c",
         "import sys, json, pathlib, numpy as np, torch\n"
         "folder, pt = pathlib.Path(sys.argv[1]), torch.load(sys.argv[2])\n"
         "captures = json.load(open(folder / 'manifest.json'))['captures']\n"
         "assert sorted(pt) == sorted(c['name'] for c in captures) and len(pt) == 26, sorted(pt)\n"
         "for c in captures:\n"
         "    x, y = np.load(folder / c['stored_as']), pt[c['name']]\n"
         "    assert y.is_contiguous() and y.numpy().dtype == x.dtype and (y.numpy() == x).all(), c['name']\n"
         "print(len(captures))",
         dir.filePath("all_whole"), dir.filePath("all_merged.pt")});
    QVERIFY2(samePt.exitCode == 0 && samePt.out.trimmed() == "26", qPrintable(samePt.err + samePt.out));

    // Progress after every block, and a stop asked for between blocks: Cancelled, and nothing written.
    std::vector<std::int64_t> reported;
    const std::vector<std::string> shardFiles {dir.filePath("all0").toStdString(), dir.filePath("all1").toStdString(),
                                               dir.filePath("all2").toStdString()};
    QVERIFY_THROWS_EXCEPTION(layerscope::Cancelled,
                             layerscope::mergeShards(shardFiles, dir.filePath("stopped.npz").toStdString(),
                                                     [&](const layerscope::ExtractionProgress& p) {
                                                         reported.push_back(p.done);
                                                         return p.done == 0 && p.total == 22;
                                                     }));
    QVERIFY2(reported.size() == 4 && reported.back() > 0 && reported.back() < 22,
             qPrintable(QString::number(reported.size()))); // three shards opened, then the first block
    QVERIFY(!QFile::exists(dir.filePath("stopped.npz")));
    QCOMPARE(QDir(dir.path()).entryList({".stopped*"}, QDir::Hidden | QDir::AllEntries).size(), 0);

    // Every shard's captures are open at once (78 files here, 104 with the writer's): a low soft limit is raised, a
    // hard one named.
    const QStringList shards {dir.filePath("all0"), dir.filePath("all1"), dir.filePath("all2")};
    auto mergeUnder = [&](const QString& ulimit, const QString& out) {
        return runProgram("/bin/sh",
                          QStringList {"-c", ulimit + " && exec \"$0\" \"$@\"", LAYERSCOPE_CLI, "merge"} + shards
                              + QStringList {"--out", dir.filePath(out)});
    };
    const Outcome soft = mergeUnder("ulimit -S -n 40", "soft");
    QVERIFY2(soft.exitCode == 0 && QFile::exists(dir.filePath("soft/manifest.json")), qPrintable(soft.err));
    const Outcome hard = mergeUnder("ulimit -n 40", "hard");
    QVERIFY2(hard.exitCode == 1 && hard.err.contains("keep 104 files open at once, but this process may open only 40")
                 && !QFile::exists(dir.filePath("hard")),
             qPrintable(hard.err));
}

// A folder to HDF5 with --compress, --pool and --dtype: h5py reads the .npz's arrays, each dataset
// chunked along the sample axis and gzip-compressed, the manifest as an attribute.
void TestCli::hdf5OutputIsChunkedCompressedAndEqual()
{
    QTemporaryDir dir;
    const QStringList run = seedOverDataset({"--batch-size", "4", "--layer", "cnn.2", "--layer", "linear.0", "--pool",
                                             "avg", "--dtype", "float16", "--quiet"});
    const Outcome h5 = cli(run + QStringList {"--compress", "--out", dir.filePath("features.h5")});
    QVERIFY2(h5.exitCode == 0, qPrintable(h5.err));
    QVERIFY(cli(run + QStringList {"--out", dir.filePath("features.npz")}).exitCode == 0);
    const Outcome same = runProgram(
        LAYERSCOPE_PYTHON,
        {"-c",
         "import sys, json, h5py, numpy as np\n"
         "a = np.load(sys.argv[2])\n"
         "with h5py.File(sys.argv[1], 'r') as f:\n"
         "    assert sorted(f.keys()) == sorted(a.files), (list(f.keys()), a.files)\n"
         "    for k in a.files:\n"
         "        d = f[k]\n"
         "        assert d.dtype == a[k].dtype and d.shape == a[k].shape and (d[()] == a[k]).all(), k\n"
         "        assert d.chunks[1:] == d.shape[1:] and d.compression == 'gzip' and d.shuffle, (k, d.chunks)\n"
         "        assert d.maxshape[0] is None, d.maxshape\n"
         "    m = json.loads(f.attrs['layerscope_manifest'])\n"
         "    assert m['reduce'] == {'maps': 'avg', 'dtype': 'float16'} and m['output']['format'] == 'hdf5', m\n"
         "print(a['cnn.2'].shape)",
         dir.filePath("features.h5"), dir.filePath("features.npz")});
    QVERIFY2(same.exitCode == 0 && same.out.contains("64)"), qPrintable(same.err + same.out));
    const Outcome wrong = cli(run + QStringList {"--compress", "--out", dir.filePath("features2.npz")});
    QVERIFY2(wrong.exitCode == 1 && wrong.err.contains("only HDF5 output (.h5) is compressed"), qPrintable(wrong.err));
}

// 20 images at 2000x2000 through a convolution of 8 channels: 128 MB a row, 2.4 GiB in all. Asked for
// MATLAB v5, the run stops after its first image with the reason, instead of failing after the last one.
void TestCli::matTooLargeIsRefusedAfterTheFirstBatch()
{
    QTemporaryDir dir;
    const Outcome run
        = cli({"extract", fixture("inplace_scripted", "model.pt"), "--input",
               QString(LAYERSCOPE_FIXTURES_DIR) + "/dataset", "--resize", "2000x2000", "--batch-size", "1", "--layer",
               "features.0", "--quiet", "--mat-version", "5", "--out", dir.filePath("big.mat")});
    QCOMPARE(run.exitCode, 1);
    QVERIFY2(run.err.contains("capture 'features.0' would be 2.4 GiB over 20 inputs")
                 && run.err.contains("more than a MATLAB v5 variable holds") && run.err.contains("--pool avg"),
             qPrintable(run.err));
    QVERIFY(!QFile::exists(dir.filePath("big.mat")));
    QVERIFY(!QFile::exists(dir.filePath("big.mat.manifest.json")));
    const Outcome pooled = cli({"extract", fixture("inplace_scripted", "model.pt"), "--input",
                                QString(LAYERSCOPE_FIXTURES_DIR) + "/dataset", "--resize", "64x64", "--layer",
                                "features.0", "--quiet", "--out", dir.filePath("small.mat")});
    QVERIFY2(pooled.exitCode == 0, qPrintable(pooled.err));
}

// MATLAB v7.3 is HDF5 inside: h5py reads every variable back, in MATLAB's column-major order. Every
// module: the largest captures (13 MB) are appended in blocks of rows (4 MiB), the last one short.
void TestCli::matVersion73IsReadBackByH5py()
{
    QTemporaryDir dir;
    const QStringList run = seedOverDataset({"--all", "--quiet"});
    QCOMPARE(cli(run + QStringList {"--out", dir.filePath("features.npz")}).exitCode, 0);
    const Outcome mat = cli(run + QStringList {"--mat-version", "7.3", "--out", dir.filePath("features.mat")});
    QVERIFY2(mat.exitCode == 0, qPrintable(mat.err));
    const Outcome same
        = runProgram(LAYERSCOPE_PYTHON,
                     {"-c",
                      "import sys, json, h5py, numpy as np\n"
                      "a = np.load(sys.argv[2])\n"
                      "m = json.load(open(sys.argv[1] + '.manifest.json'))\n"
                      "names = {c['name']: c['stored_as'] for c in m['captures']}\n"
                      "with h5py.File(sys.argv[1], 'r') as f:\n"
                      "    assert f.userblock_size == 512, f.userblock_size  # MATLAB's header\n"
                      "    for k in a.files:\n"
                      "        d = f[names[k]][()].T\n"
                      "        assert d.dtype == a[k].dtype and d.shape == a[k].shape and (d == a[k]).all(), k\n"
                      "print(len(a.files))",
                      dir.filePath("features.mat"), dir.filePath("features.npz")});
    QVERIFY2(same.exitCode == 0 && same.out.trimmed() == "26", qPrintable(same.err + same.out));
    const Outcome wrong = cli(run + QStringList {"--mat-version", "7.3", "--out", dir.filePath("features2.npz")});
    QVERIFY2(wrong.exitCode == 1 && wrong.err.contains("--mat-version"), qPrintable(wrong.err));
}

void TestCli::poolingAndHalfPrecisionEqualNumpy_data()
{
    QTest::addColumn<QStringList>("options");
    QTest::addColumn<QStringList>("expected"); // maps, tokens, dtype as check_reduced.py takes them
    QTest::newRow("avg + mean, float16") << QStringList {"--pool", "avg", "--pool", "mean", "--dtype", "float16"}
                                         << QStringList {"avg", "mean", "float16"};
    QTest::newRow("max + cls") << QStringList {"--pool", "max", "--pool", "cls"}
                               << QStringList {"max", "cls", "float32"};
    QTest::newRow("float16 only") << QStringList {"--dtype", "float16"} << QStringList {"none", "none", "float16"};
}

// The two-input model has 4-D maps, [N, 2, 64] tokens (encoder) and vectors: each pooled as numpy pools
// the full captures that Python's hooks recorded.
void TestCli::poolingAndHalfPrecisionEqualNumpy()
{
    QFETCH(QStringList, options);
    QFETCH(QStringList, expected);
    QTemporaryDir dir;
    const QString out = dir.filePath("reduced.npz");
    const Outcome run = cli(QStringList {"extract", fixture("nested_scripted", "model.pt"), "--input",
                                         fixture("nested_scripted", "input0.npy"), "--input",
                                         fixture("nested_scripted", "input1.npy"), "--all", "--out", out}
                            + options);
    QVERIFY2(run.exitCode == 0, qPrintable(run.err));
    const Outcome numpy = runProgram(LAYERSCOPE_PYTHON,
                                     QStringList {QString(LAYERSCOPE_TESTS_SOURCE_DIR) + "/interop/check_reduced.py",
                                                  out, fixture("nested_scripted", "reference.npz")}
                                         + expected);
    QVERIFY2(numpy.exitCode == 0, qPrintable(numpy.err));
    QVERIFY(numpy.out.trimmed().toInt() > 40);

    const Outcome mat
        = cli({"extract", fixture("nested_scripted", "model.pt"), "--input", fixture("nested_scripted", "input0.npy"),
               "--input", fixture("nested_scripted", "input1.npy"), "--all", "--dtype", "float16", "--out",
               dir.filePath("half.mat")});
    QCOMPARE(mat.exitCode, 1);
    QVERIFY2(mat.err.contains("cannot hold half precision"), qPrintable(mat.err));
    QVERIFY(!QFile::exists(dir.filePath("half.mat")));
}

void TestCli::ctrlCKeepsCompleteRows()
{
    // 200 links to a photograph through resnet18 at 224x224, batch 2: long enough to interrupt.
    QTemporaryDir dir;
    QDir().mkpath(dir.filePath("many"));
    for (int i = 0; i < 200; ++i)
        QFile::link(QString(LAYERSCOPE_FIXTURES_DIR) + "/images/photo.jpg",
                    dir.filePath(QString("many/%1.jpg").arg(i, 3, 10, QChar('0'))));
    const QString out = dir.filePath("part.npz");
    QProcess process;
    process.start(LAYERSCOPE_CLI,
                  {"extract", fixture("resnet18_scripted", "model.pt"), "-i", dir.filePath("many"), "--preset",
                   "imagenet", "-l", "layer4", "-l", "avgpool", "-b", "2", "-o", out});
    process.setReadChannel(QProcess::StandardError);
    QVERIFY(process.waitForStarted());
    // Ctrl-C once the first rows are through: the CLI prints a progress line per percent when its
    // standard error is not a terminal.
    QByteArray early;
    while (!early.contains("progress: ") && process.state() == QProcess::Running) {
        process.waitForReadyRead(60000);
        early += process.readAllStandardError();
    }
    QVERIFY2(early.contains("progress: "), early.constData());
    ::kill(process.processId(), SIGINT);
    QVERIFY(process.waitForFinished(60000));
    const QString err = QString::fromUtf8(early + process.readAllStandardError());
    QCOMPARE(process.exitCode(), 130);
    QVERIFY2(err.contains("interrupted: wrote"), qPrintable(err));
    // What was written is complete and valid for the rows done, and the manifest says so.
    const Outcome numpy
        = runProgram(LAYERSCOPE_PYTHON,
                     {"-c",
                      "import sys, json, numpy as np; d = np.load(sys.argv[1]); m = json.load(open(sys.argv[2])); "
                      "n = len(m['rows']); assert m['cancelled'] and 0 < n < 200, n; "
                      "assert d['layer4'].shape == (n, 512, 7, 7) and d['avgpool'].shape == (n, 512, 1, 1); print(n)",
                      out, dir.filePath("part.npz.manifest.json")});
    QVERIFY2(numpy.exitCode == 0, qPrintable(numpy.err));
    QVERIFY(
        QDir(dir.path()).entryList(QDir::Hidden | QDir::AllEntries | QDir::NoDotAndDotDot).filter("partial").isEmpty());
}

void TestCli::fullDiskLeavesNoFile()
{
    // A real full disk: a 1 MiB tmpfs, too small for every activation of the seed CNN.
    QTemporaryDir dir;
    const QString mountPoint = dir.filePath("small");
    QDir().mkpath(mountPoint);
    if (runProgram("mount", {"-t", "tmpfs", "-o", "size=1M", "tmpfs", mountPoint}).exitCode != 0)
        QSKIP("mounting a small tmpfs needs root");
    const QString out = mountPoint + "/out.npz";
    const Outcome result = cli({"extract", fixture("seed_cnn_scripted", "model.pt"), "-i",
                                fixture("seed_cnn_scripted", "input0.npy"), "--all", "-o", out});
    const QStringList left = QDir(mountPoint).entryList(QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot);
    runProgram("umount", {mountPoint});
    QVERIFY(result.exitCode != 0);
    QVERIFY2(result.err.contains(out + ": cannot write") && result.err.contains("No space left on device"),
             qPrintable(result.err));
    QVERIFY2(left.isEmpty(), qPrintable(left.join(", ")));
}

void TestCli::errorsAreOneLineAndNonZero_data()
{
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QString>("message");
    const QString seed = fixture("seed_cnn_scripted", "model.pt");
    const QString seedInput = fixture("seed_cnn_scripted", "input0.npy");
    const QString out = QDir::temp().filePath("layerscope-tst-cli-never-written.npz");
    QTest::newRow("unknown layer") << QStringList {"extract", seed, "-i", seedInput, "-l", "cnn.0.O", "-o", out}
                                   << "no module named 'cnn.0.O'";
    QTest::newRow("wrong number of inputs")
        << QStringList {"extract", seed, "-i", seedInput, "-i", seedInput, "-l", "cnn.0", "-o", out}
        << "takes 1 input, forward(x: Tensor) -> Tensor, but 2 were given";
    QTest::newRow("shape mismatch") << QStringList {"extract", seed,
                                                    "-i",      fixture("resnet18_scripted", "input0.npy"),
                                                    "-l",      "cnn.0",
                                                    "-o",      out}
                                    << "forward failed in module 'cnn.0.0' (Conv2d) on input of shape [2, 3, 112, 112]";
    QTest::newRow("unreadable npy") << QStringList {"extract", seed,    "-i", fixture("bad", "not_numpy.npy"),
                                                    "-l",      "cnn.0", "-o", out}
                                    << "not_numpy.npy: not a .npy file";
    QTest::newRow("not an input") << QStringList {"extract", seed, "-i", seed, "-l", "cnn.0", "-o", out}
                                  << "not an input LayerScope reads";
    QTest::newRow("unwritable output") << QStringList {"extract", seed,    "-i", seedInput,
                                                       "-l",      "cnn.0", "-o", "/nonexistent/folder/out.npz"}
                                       << "/nonexistent/folder/out.npz: cannot write";
    QTest::newRow("state_dict") << QStringList {"modules", fixture("bad", "state_dict.pt")} << "torch.save pickle";
    QTest::newRow("no layers") << QStringList {"extract", seed, "-i", seedInput, "-o", out}
                               << "choose modules with --layer NAME or --all";
    // Values that used to hang, overflow into OpenCV assertions or produce NaN output with exit 0.
    const QStringList base {"extract", seed, "-i", seedInput, "-l", "cnn.0", "-o", out};
    QTest::newRow("--threads 1000") << (base + QStringList {"--threads", "1000"}) << "--threads: 1000 is outside 1..";
    QTest::newRow("--threads -2") << (base + QStringList {"--threads", "-2"}) << "--threads: -2 is outside 1..";
    QTest::newRow("--resize-shorter 2000000000") << (base + QStringList {"--resize-shorter", "2000000000"})
                                                 << "--resize-shorter: 2000000000 is outside 1..16384 pixels";
    QTest::newRow("--crop huge") << (base + QStringList {"--crop", "99999999x2"})
                                 << "--crop: '99999999x2' is not a size";
    QTest::newRow("--resize 0") << (base + QStringList {"--resize", "0x5"}) << "--resize: 0 is outside 1..16384";
    QTest::newRow("--mean nan") << (base + QStringList {"--color", "gray", "--mean", "nan"})
                                << "--mean: 'nan' is not a finite number";
    QTest::newRow("--mean 1e40") << (base + QStringList {"--color", "gray", "--mean", "1e40"})
                                 << "--mean: '1e40' is not a number";
    QTest::newRow("--std 0") << (base + QStringList {"--color", "gray", "--std", "0"})
                             << "--std: a standard deviation of 0";
    QTest::newRow("--mean count") << (base + QStringList {"--mean", "0.5,0.5"}) << "--mean: 2 values for 3 channels";
    QTest::newRow("--batch-size 0") << (base + QStringList {"-b", "0"}) << "--batch-size: 0 is outside 1..4096";
    QTest::newRow("--shard 4/4") << (base + QStringList {"--shard", "4/4"}) << "--shard: 4/4 does not exist";
    QTest::newRow("--shard junk") << (base + QStringList {"--shard", "-1/4"}) << "--shard: '-1/4' is not I/N";
    QTest::newRow("--max-pixels -1") << (base + QStringList {"--max-pixels", "-1"}) << "--max-pixels: -1";
}

void TestCli::errorsAreOneLineAndNonZero()
{
    QFETCH(QStringList, arguments);
    QFETCH(QString, message);
    const Outcome result = cli(arguments);
    QVERIFY(result.exitCode != 0);
    QVERIFY2(result.err.contains(message), qPrintable(result.err));
    QCOMPARE(result.err.count('\n'), 1);
    QVERIFY(!QFile::exists(QDir::temp().filePath("layerscope-tst-cli-never-written.npz")));
}

void TestCli::untrustedModelNeedsTrustModel()
{
    // hostile/cli_from_file_setstate.pt creates and writes cli_from_file_setstate.written while it
    // loads, in PyTorch itself (make_fixtures.py checks it): listing its modules is enough.
    const QString model = fixture("hostile", "cli_from_file_setstate.pt");
    const QString target = fixture("hostile", "cli_from_file_setstate.written");
    QTemporaryDir dir;
    const QString out = dir.filePath("out.npz");
    QFile::remove(target);
    const QString refusal = "layerscope-cli: error: " + model
        + ": the model calls torch.from_file in method __setstate__ of __torch__.fixture_models.FromFileInSetstate: "
          "it can read or write files; open it only if you trust it (--trust-model)\n";
    const QStringList extract {"extract", model, "-i", fixture("seed_cnn_scripted", "input0.npy"), "--all", "-o", out};
    for (const QStringList& arguments : {QStringList {"modules", model}, extract}) {
        const Outcome refused = cli(arguments);
        QVERIFY(refused.exitCode != 0);
        QCOMPARE(refused.err, refusal);
        QVERIFY(!QFile::exists(target));
        QVERIFY(!QFile::exists(out));
    }

    const Outcome listed = cli({"modules", "--trust-model", model});
    QVERIFY2(listed.exitCode == 0, qPrintable(listed.err));
    QVERIFY2(listed.out.startsWith(model + ": forward(x: Tensor) -> Tensor"), qPrintable(listed.out));
    QVERIFY(QFile::exists(target)); // what trusting it allowed
    QFile::remove(target);
    const Outcome extracted = cli(extract + QStringList {"--trust-model"});
    QVERIFY2(extracted.exitCode == 0, qPrintable(extracted.err));
    QVERIFY(QFile::exists(out));
    QFile::remove(target);
}

namespace {

// A data set large enough that a run is killed midway: the fixture data set (readable images and
// files that must be skipped) linked under 12 prefixes.
QStringList resumeCommand(const QString& folder, const QString& out, const QStringList& more = {},
                          const QString& batch = "2")
{
    return QStringList {"extract",      fixture("seed_cnn_scripted", "model.pt"),
                        "--input",      folder,
                        "--preset",     "gray",
                        "--resize",     "101",
                        "--layer",      "cnn.1",
                        "--layer",      "linear",
                        "--batch-size", batch,
                        "--threads",    "1",
                        "--out",        out}
    + more;
}

QString linkedDataSet(const QTemporaryDir& dir)
{
    const QString folder = dir.filePath("images");
    QDir().mkpath(folder);
    const QDir source(QString(LAYERSCOPE_FIXTURES_DIR) + "/dataset");
    for (int copy = 0; copy < 12; ++copy)
        for (const QString& name : source.entryList(QDir::Files))
            QFile::link(source.filePath(name), folder + QString("/%1_%2").arg(copy, 2, 10, QChar('0')).arg(name));
    return folder;
}

// Starts `command` and kills it with SIGKILL once its first checkpoint is in `state`: the watcher's
// signal, not a delay, says when.
void killAtFirstCheckpoint(QProcess& run, const QTemporaryDir& dir, const QStringList& command, const QString& state)
{
    QFileSystemWatcher watcher({dir.path()});
    QSignalSpy changed(&watcher, &QFileSystemWatcher::directoryChanged);
    run.start(LAYERSCOPE_CLI, command);
    QVERIFY(run.waitForStarted());
    while (!QFile::exists(state + "/checkpoint.json")) {
        if (QFileInfo(state).isDir() && !watcher.directories().contains(state))
            watcher.addPath(state);
        QVERIFY2(run.state() == QProcess::Running, "the run ended before its first checkpoint was seen");
        changed.wait(5000);
    }
    ::kill(pid_t(run.processId()), SIGKILL);
    QVERIFY(run.waitForFinished());
}

QJsonObject manifestOf(const QString& output)
{
    QFile file(output + ".manifest.json");
    return file.open(QIODevice::ReadOnly) ? QJsonDocument::fromJson(file.readAll()).object() : QJsonObject();
}

} // namespace

void TestCli::resumeAfterSigkillGivesTheUninterruptedOutput_data()
{
    QTest::addColumn<QString>("streams"); // on as many threads
    QTest::newRow("one stream") << "1";
    // Batches end out of order, are written in order, and a checkpoint names only written ones.
    QTest::newRow("three streams") << "3";
}

// --resume: a run killed with SIGKILL after a checkpoint, started again with the same command,
// ends with exactly the arrays, rows and manifest of a run never interrupted (one stream).
void TestCli::resumeAfterSigkillGivesTheUninterruptedOutput()
{
    QFETCH(QString, streams);
    QTemporaryDir dir;
    const QString folder = linkedDataSet(dir);
    const QString reference = dir.filePath("reference.npz"), out = dir.filePath("out.npz");
    QStringList command = resumeCommand(folder, out, {"--resume", "--streams", streams});
    command[command.indexOf("--threads") + 1] = streams;
    const auto whole = cli(resumeCommand(folder, reference));
    QVERIFY2(whole.exitCode == 0, qPrintable(whole.err));

    const QString state = dir.filePath(".out.npz.resume");
    QProcess run;
    killAtFirstCheckpoint(run, dir, command, state);
    if (QTest::currentTestFailed())
        return;
    QCOMPARE(run.exitStatus(), QProcess::CrashExit);
    QVERIFY2(!QFile::exists(out), "a killed run left its output");
    QVERIFY(QFileInfo(state).isDir());

    const auto resumed = cli(command);
    QVERIFY2(resumed.exitCode == 0, qPrintable(resumed.err));
    QVERIFY2(!QFileInfo::exists(state), "the resume state outlived the finished run");
    const auto expected = readNpzAsMap(reference.toStdString());
    const auto got = readNpzAsMap(out.toStdString());
    QCOMPARE(got.size(), expected.size());
    for (const auto& [key, tensor] : expected) {
        QVERIFY2(got.count(key), key.c_str());
        QCOMPARE(got.at(key).shape, tensor.shape);
        QVERIFY2(maxAbsDifference(got.at(key), tensor) == 0, key.c_str());
    }
    const QJsonObject a = manifestOf(reference), b = manifestOf(out);
    for (const char* key : {"rows", "captures", "skipped_inputs", "not_executed", "skipped_values", "shard", "inputs"})
        QVERIFY2(a[key] == b[key], key);
    QVERIFY(a["rows"].toArray().size() >= 100);
    QVERIFY(!a["skipped_inputs"].toArray().isEmpty());
}

void TestCli::resumeOfAnotherJobIsRefused()
{
    QTemporaryDir dir;
    const QString folder = linkedDataSet(dir);
    const QString out = dir.filePath("out.npz");
    // A resume state as a killed run leaves it.
    QProcess run;
    const QString state = dir.filePath(".out.npz.resume");
    killAtFirstCheckpoint(run, dir, resumeCommand(folder, out, {"--resume"}), state);
    if (QTest::currentTestFailed())
        return;

    const auto otherBatch = cli(resumeCommand(folder, out, {"--resume"}, "4"));
    QCOMPARE(otherBatch.exitCode, 1);
    QVERIFY2(otherBatch.err.contains("--resume: " + out + " was started with another batch_size (2, now 4)"),
             qPrintable(otherBatch.err));
    QStringList otherModel = resumeCommand(folder, out, {"--resume"});
    otherModel[1] = fixture("seed_cnn_traced", "model.pt");
    const auto refused = cli(otherModel);
    QVERIFY2(refused.err.contains("was started with another model_sha256"), qPrintable(refused.err));
    QVERIFY(!QFile::exists(out));
    QVERIFY(QFileInfo(state).isDir()); // kept for the right command
}

// A killed --resume run, then the same output written whole without --resume: the user is told the
// state is there, and it does not outlive the complete output.
void TestCli::aCompleteRunReplacesAStaleResumeState()
{
    QTemporaryDir dir;
    const QString folder = linkedDataSet(dir);
    const QString out = dir.filePath("out.npz"), reference = dir.filePath("reference.npz");
    const QString state = dir.filePath(".out.npz.resume");
    QProcess run;
    killAtFirstCheckpoint(run, dir, resumeCommand(folder, out, {"--resume"}), state);
    if (QTest::currentTestFailed())
        return;
    QVERIFY(QFileInfo(state).isDir());

    const auto whole = cli(resumeCommand(folder, out));
    QVERIFY2(whole.exitCode == 0, qPrintable(whole.err));
    QVERIFY2(whole.err.contains("note: " + state + " holds a killed run of this output: add --resume to continue it"),
             qPrintable(whole.err));
    QVERIFY2(whole.err.contains("note: removed " + state), qPrintable(whole.err));
    QVERIFY2(!QFileInfo::exists(state), "the stale resume state outlived the complete output");
    const auto again = cli(resumeCommand(folder, reference));
    QVERIFY2(again.exitCode == 0, qPrintable(again.err));
    const auto expected = readNpzAsMap(reference.toStdString()), got = readNpzAsMap(out.toStdString());
    QCOMPARE(got.size(), expected.size());
    for (const auto& [key, tensor] : expected)
        QVERIFY2(got.count(key) && maxAbsDifference(got.at(key), tensor) == 0, key.c_str());
}

// atlas --resume, as extract's: killed with SIGKILL after a checkpoint, the same command ends with the
// files of an atlas never interrupted, byte for byte (its rankings and statistics were in the checkpoint);
// another K is refused; a complete run without --resume replaces a killed run's state.
void TestCli::atlasResumeAfterSigkillGivesTheUninterruptedAtlas()
{
    QTemporaryDir dir;
    const QString folder = linkedDataSet(dir);
    const QString reference = dir.filePath("reference"), out = dir.filePath("atlas");
    const QString state = dir.filePath(".atlas.resume");
    QStringList command {"atlas",        fixture("seed_cnn_scripted", "model.pt"),
                         "--input",      folder,
                         "--preset",     "gray",
                         "--resize",     "101",
                         "--layer",      "cnn.1",
                         "--layer",      "linear",
                         "--top",        "5",
                         "--batch-size", "2",
                         "--threads",    "1",
                         "--quiet"};
    const auto whole = cli(command + QStringList {"--out", reference});
    QVERIFY2(whole.exitCode == 0 && whole.err.contains("atlas of 216 images"), qPrintable(whole.err));
    command << "--resume"
            << "--out" << out;

    QProcess run;
    killAtFirstCheckpoint(run, dir, command, state);
    if (QTest::currentTestFailed())
        return;
    QCOMPARE(run.exitStatus(), QProcess::CrashExit);
    QVERIFY2(!QFile::exists(out), "a killed run left its atlas");
    QFile checkpoint(state + "/checkpoint.json");
    QVERIFY(checkpoint.open(QIODevice::ReadOnly));
    const QByteArray saved = checkpoint.readAll();
    checkpoint.close();
    const int imagesDone = QJsonDocument::fromJson(saved).object()["images"].toInt();
    QVERIFY2(imagesDone > 0 && imagesDone < 216, qPrintable(QString::number(imagesDone)));

    // A damaged checkpoint (a disk that lost its end) is named, and nothing is written.
    QVERIFY(checkpoint.open(QIODevice::WriteOnly) && checkpoint.write(saved.left(saved.size() / 2)) > 0);
    checkpoint.close();
    const auto damaged = cli(command);
    QVERIFY2(damaged.exitCode == 1 && damaged.err.contains(out + ": the resume state in " + state + " is damaged")
                 && damaged.err.count('\n') == 1,
             qPrintable(damaged.err));
    // Rankings of fewer channels than the capture has (valid JSON): named, never indexed past.
    QJsonObject fewer = QJsonDocument::fromJson(saved).object();
    QJsonArray layers = fewer["layers"].toArray();
    QJsonObject first = layers[0].toObject();
    for (const char* list : {"statistics", "top", "bottom"}) {
        QJsonArray shorter = first[list].toArray();
        shorter.removeLast();
        first[list] = shorter;
    }
    layers[0] = first;
    fewer["layers"] = layers;
    QVERIFY(checkpoint.open(QIODevice::WriteOnly) && checkpoint.write(QJsonDocument(fewer).toJson()) > 0);
    checkpoint.close();
    const auto mismatched = cli(command);
    QVERIFY2(mismatched.exitCode == 1 && mismatched.err.contains("is damaged (capture 0 does not match its shape)"),
             qPrintable(mismatched.err));
    QVERIFY(checkpoint.open(QIODevice::WriteOnly) && checkpoint.write(saved) == saved.size());
    checkpoint.close();

    QStringList otherTop = command;
    otherTop[otherTop.indexOf("--top") + 1] = "3";
    const auto refused = cli(otherTop);
    QVERIFY2(refused.exitCode == 1 && refused.err.contains("--resume: " + out + " was started with another method")
                 && refused.err.contains("\"atlas_top_k\":\"5\"") && refused.err.contains("remove " + state),
             qPrintable(refused.err));

    const auto resumed = cli(command);
    QVERIFY2(resumed.exitCode == 0 && resumed.err.contains("atlas of 216 images"), qPrintable(resumed.err));
    QVERIFY2(!QFileInfo::exists(state), "the resume state outlived the finished atlas");
    const auto expected = filesUnder(reference), got = filesUnder(out);
    QVERIFY(expected.size() >= 14 && expected.count("capture_1/top_rows.npy"));
    QCOMPARE(got.size(), expected.size());
    for (const auto& [name, bytes] : expected)
        QVERIFY2(got.count(name) && got.at(name) == bytes, qPrintable(name));

    // Killed again, then written whole without --resume: told, and the state does not outlive it.
    QVERIFY(QDir(out).removeRecursively());
    QProcess again;
    killAtFirstCheckpoint(again, dir, command, state);
    if (QTest::currentTestFailed())
        return;
    command.removeAll("--resume");
    const auto afresh = cli(command);
    QVERIFY2(afresh.exitCode == 0 && afresh.err.contains("note: " + state + " holds a killed run of this atlas")
                 && afresh.err.contains("note: removed " + state),
             qPrintable(afresh.err));
    QVERIFY(!QFileInfo::exists(state));
    QVERIFY(filesUnder(out) == expected);
}

// A model saved in bfloat16 takes the float32 array it is given (rounded as torch rounds) and its
// captures are stored as float32 (numpy has no bfloat16): every format, pooled or not.
void TestCli::bfloat16ModelExtractsWhatTorchComputes()
{
    QTemporaryDir dir;
    const QString model = fixture("seed_cnn_bfloat16", "model.pt"), input = fixture("seed_cnn_bfloat16", "input0.npy"),
                  reference = fixture("seed_cnn_bfloat16", "reference.npz");
    const QString check = QString(LAYERSCOPE_TESTS_SOURCE_DIR) + "/interop/check_bfloat16.py";
    const QString full = dir.filePath("full.npz"), pooled = dir.filePath("pooled.pt");
    const Outcome run = cli({"extract", model, "--input", input, "--all", "--out", full});
    QVERIFY2(run.exitCode == 0, qPrintable(run.err));
    const Outcome same = runProgram(LAYERSCOPE_PYTHON, {check, full, reference});
    QVERIFY2(same.exitCode == 0, qPrintable(same.err));
    const QStringList counts = same.out.trimmed().split(' ');
    QCOMPARE(counts.value(0).toInt(), 26); // every module of the seed CNN, and its output
    qInfo("bfloat16 captures bit for bit PyTorch's: %s of %s", qPrintable(counts.value(1)),
          qPrintable(counts.value(0)));
    const QJsonObject manifest = manifestOf(full);
    QCOMPARE(manifest["model"].toObject()["parameter_dtype"].toString(), QString("bfloat16"));
    QCOMPARE(manifest["captures"].toArray().first().toObject()["dtype"].toString(), QString("float32"));

    const Outcome pool = cli({"extract", model, "--input", input, "--all", "--pool", "avg", "--out", pooled});
    QVERIFY2(pool.exitCode == 0, qPrintable(pool.err));
    const Outcome poolCheck = runProgram(LAYERSCOPE_PYTHON, {check, pooled, reference, "avg"});
    QVERIFY2(poolCheck.exitCode == 0, qPrintable(poolCheck.err));
}

// A module that returns float16 (here a cast after a convolution; LibTorch 1.13 has no float16
// convolution on the CPU) is pooled like any other, in float64, and stays float16.
void TestCli::float16CapturesArePooledAsNumpyPools()
{
    QTemporaryDir dir;
    const QString script = dir.filePath("make_half.py");
    QFile file(script);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write(R"(import sys, numpy as np, torch
class ToHalf(torch.nn.Module):
    def forward(self, x):
        return x.half()
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Conv2d(3, 64, 3), ToHalf()).eval()
torch.jit.script(model).save(sys.argv[1] + "/half.pt")
x = np.random.default_rng(1).standard_normal((4, 3, 20, 20)).astype(np.float32)
np.save(sys.argv[1] + "/x.npy", x)
with torch.no_grad():
    np.save(sys.argv[1] + "/expected.npy", model(torch.from_numpy(x)).numpy().astype(np.float64).mean(axis=(2, 3)).astype(np.float16))
)");
    file.close();
    const Outcome make = runProgram(LAYERSCOPE_PYTHON, {script, dir.path()});
    QVERIFY2(make.exitCode == 0, qPrintable(make.err));
    const QString out = dir.filePath("pooled.npz");
    const Outcome run
        = cli({"extract", dir.filePath("half.pt"), "-i", dir.filePath("x.npy"), "-l", "1", "--pool", "avg", "-o", out});
    QVERIFY2(run.exitCode == 0, qPrintable(run.err));
    const Outcome numpy = runProgram(
        LAYERSCOPE_PYTHON,
        {"-c",
         "import sys, numpy as np; got, want = np.load(sys.argv[1])['1'], np.load(sys.argv[2]); "
         "assert got.dtype == np.float16 and np.array_equal(got, want), (got.dtype, got, want); print(got.shape)",
         out, dir.filePath("expected.npy")});
    QVERIFY2(numpy.exitCode == 0, qPrintable(numpy.err));
    QCOMPARE(numpy.out.trimmed(), QString("(4, 64)"));
}

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
