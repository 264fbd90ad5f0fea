// Opening models: the forward signature, one clear line for every kind of bad file, and hostile
// files: zip bombs and models whose code writes files, refused before LibTorch runs anything.

#include "layerscope/error.h"
#include "layerscope/extraction.h"
#include "layerscope/model.h"
#include "testsupport.h"

#include <QtTest>

#include <sys/resource.h>

using namespace layerscope;
using namespace layerscope::test;

namespace {

QString hostile(const QString& file) { return QDir(LAYERSCOPE_FIXTURES_DIR).filePath("hostile/" + file); }

long peakResidentKiB()
{
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss;
}

LoadOptions trusted()
{
    LoadOptions options;
    options.trustModel = true;
    return options;
}

} // namespace

class TestModelLoading : public QObject {
    Q_OBJECT

private slots:
    void zipBombIsRefusedBeforeInflating(); // first: the peak RSS it measures is the process's so far
    void fileWritingModelsAreRefusedBeforeTheyRun_data();
    void fileWritingModelsAreRefusedBeforeTheyRun();
    void lookAlikeLoads();
    void everyFixtureModelStillLoads();
    void craftedArchives_data();
    void craftedArchives();
    void reportsForwardSignature_data();
    void reportsForwardSignature();
    void badFilesGetOneClearLine_data();
    void badFilesGetOneClearLine();
};

void TestModelLoading::zipBombIsRefusedBeforeInflating()
{
    // hostile/bomb.pt: a small real model, 1 MiB on disk, whose code entry inflates to 1 GiB. LibTorch
    // would allocate the 1 GiB and then parse it (the review saw 16-20 GB and a crash).
    const std::string path = hostile("bomb.pt").toStdString();
    const long before = peakResidentKiB();
    for (const LoadOptions& options : {LoadOptions(), trusted()}) { // trust skips the code check only
        try {
            Model::load(path, options);
            QFAIL("loaded a zip bomb");
        } catch (const UntrustedModelError& error) {
            QFAIL(error.what());
        } catch (const Error& error) {
            const QString message = QString::fromUtf8(error.what());
            QVERIFY2(message.startsWith(QString::fromStdString(path) + ": archive entry 'bomb/code/"),
                     qPrintable(message));
            QVERIFY2(message.endsWith("' declares 1.0 GiB uncompressed from 1.0 MiB (a zip bomb?); refusing to load"),
                     qPrintable(message));
            QVERIFY(!message.contains('\n'));
        }
    }
    const long grownMiB = (peakResidentKiB() - before) / 1024;
    QVERIFY2(grownMiB < 256, qPrintable(QString("peak RSS grew by %1 MiB").arg(grownMiB)));
}

void TestModelLoading::fileWritingModelsAreRefusedBeforeTheyRun_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<QString>("method");
    QTest::addColumn<QString>("className");
    QTest::addColumn<char>("written"); // the byte the model fills the file with
    QTest::newRow("in forward") << "from_file_forward" << "forward" << "FromFileInForward" << 'A';
    QTest::newRow("in __setstate__, while loading")
        << "from_file_setstate" << "__setstate__" << "FromFileInSetstate" << 'B';
}

// What this proves: make_fixtures.py has checked that PyTorch's own torch.jit.load (and forward) of
// these models creates NAME.written and writes into it. LayerScope refuses them before LibTorch
// compiles their code, so the file does not exist after the refused load; trusted, the very same
// model writes it, so it was the refusal, not a harmless model, that kept the file away.
void TestModelLoading::fileWritingModelsAreRefusedBeforeTheyRun()
{
    QFETCH(QString, name);
    QFETCH(QString, method);
    QFETCH(QString, className);
    QFETCH(char, written);
    const QString target = hostile(name + ".written");
    QFile::remove(target);
    const std::string path = hostile(name + ".pt").toStdString();
    try {
        Model::load(path);
        QFAIL("loaded a model that writes files");
    } catch (const UntrustedModelError& error) {
        const UntrustedModelError::Finding& finding = error.finding();
        QCOMPARE(finding.path, path);
        QCOMPARE(finding.operation, std::string("torch.from_file"));
        QCOMPARE(QString::fromStdString(finding.method), method);
        QCOMPARE(QString::fromStdString(finding.owner), "__torch__.fixture_models." + className);
        QCOMPARE(QString::fromStdString(finding.entry), name + "/code/__torch__/fixture_models.py");
        QCOMPARE(QString::fromUtf8(error.what()),
                 QString::fromStdString(path) + ": the model calls torch.from_file in method " + method
                     + " of __torch__.fixture_models." + className
                     + ": it can read or write files; open it only if you trust it (--trust-model)");
    }
    QVERIFY(!QFile::exists(target));
    try {
        runExtraction(path, ExtractionJob{}); // extraction opens the model itself
        QFAIL("extracted from a model that writes files");
    } catch (const UntrustedModelError&) {
    }
    QVERIFY(!QFile::exists(target));

    const Model model = Model::load(path, trusted());
    if (written == 'A') {
        QVERIFY(!QFile::exists(target)); // its forward writes, not its loading
        model.run({Tensor::zeros({1, 4}, DType::Float32)});
    }
    QFile file(target);
    QVERIFY(file.open(QIODevice::ReadOnly));
    QCOMPARE(file.readAll(), QByteArray(16, written));
    file.close();
    QFile::remove(target);
}

void TestModelLoading::lookAlikeLoads()
{
    // save_features, from_file_count, "torch.from_file(" in a string and in a comment: no operator.
    const Model model = Model::load(hostile("lookalike.pt").toStdString());
    QCOMPARE(model.run({Tensor::zeros({1, 4}, DType::Float32)}).outputs.size(), std::size_t(1));
}

void TestModelLoading::everyFixtureModelStillLoads()
{
    QStringList paths{QStringLiteral(LAYERSCOPE_TESTS_SOURCE_DIR "/../resources/demo/fashion_cnn.pt"),
                      QStringLiteral(LAYERSCOPE_EXAMPLES_DIR "/seed_cnn.pt"),
                      QStringLiteral(LAYERSCOPE_EXAMPLES_DIR "/seed_nested.pt")};
    for (const QString& name : fixtureCases())
        paths << QString::fromStdString(fixturePath(name, "model.pt"));
    for (const QString& path : std::as_const(paths)) {
        try {
            QVERIFY(!Model::load(path.toStdString()).modules().empty());
        } catch (const Error& error) {
            QFAIL(error.what());
        }
    }
}

void TestModelLoading::craftedArchives_data()
{
    // tests/fuzz/regressions/modelfile, written by tests/fuzz/seeds/modelfile.py --regressions: other
    // spellings of the operators (ops.aten.from_file, aliases, getattr, line continuations, upper-case
    // entry names), look-alikes in comments and strings, declared sizes that lie, broken entries.
    QTest::addColumn<QString>("path");
    const QDir folder(QStringLiteral(LAYERSCOPE_TESTS_SOURCE_DIR "/fuzz/regressions/modelfile"));
    const QStringList files = folder.entryList(QDir::Files, QDir::Name);
    QVERIFY(files.size() > 20);
    for (const QString& file : files)
        QTest::newRow(qPrintable(file)) << folder.filePath(file);
}

void TestModelLoading::craftedArchives()
{
    QFETCH(QString, path);
    const QString kind = QFileInfo(path).fileName().section('_', 0, 0);
    try {
        Model::load(path.toStdString());
        QVERIFY2(kind == "accept", "loaded");
    } catch (const UntrustedModelError& error) {
        QVERIFY2(kind == "refuse", error.what());
        QVERIFY(QString::fromUtf8(error.what()).startsWith(path + ": the model "));
    } catch (const Error& error) {
        const QString message = QString::fromUtf8(error.what());
        QVERIFY2(kind == "bomb" || kind == "corrupt", qPrintable(message));
        QVERIFY2(message.contains(kind == "bomb" ? "(a zip bomb?); refusing to load" : "corrupt archive"),
                 qPrintable(message));
        QVERIFY(!message.contains('\n'));
    }
}

void TestModelLoading::reportsForwardSignature_data()
{
    QTest::addColumn<QString>("caseName");
    QTest::addColumn<QStringList>("names");
    QTest::newRow("scripted seed") << "seed_cnn_scripted" << QStringList{"x"};
    QTest::newRow("traced seed") << "seed_cnn_traced" << QStringList{"x"};
    QTest::newRow("scripted nested") << "nested_scripted" << QStringList{"x", "y"};
    QTest::newRow("traced nested") << "nested_traced" << QStringList{"x", "y"};
    QTest::newRow("resnet18") << "resnet18_scripted" << QStringList{"x"};
}

void TestModelLoading::reportsForwardSignature()
{
    QFETCH(QString, caseName);
    QFETCH(QStringList, names);
    const Model model = Model::load(fixturePath(caseName, "model.pt"));
    QStringList got;
    for (const auto& argument : model.forwardArguments()) {
        got << QString::fromStdString(argument.name);
        QCOMPARE(argument.type, std::string("Tensor"));
    }
    QCOMPARE(got, names);
    QCOMPARE(model.requiredArgumentCount(), int(names.size()));
    QCOMPARE(model.parameterDType(), DType::Float32);
}

void TestModelLoading::badFilesGetOneClearLine_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("cause");
    QTest::newRow("missing") << "bad/does_not_exist.pt" << "no such file";
    QTest::newRow("folder") << "bad" << "is a folder";
    QTest::newRow("empty") << "bad/empty.pt" << "the file is empty";
    QTest::newRow("text") << "bad/not_a_model.pt" << "not a zip archive";
    QTest::newRow("truncated") << "bad/truncated.pt" << "truncated or corrupt archive";
    QTest::newRow("state_dict") << "bad/state_dict.pt" << "torch.save pickle (a state_dict";
    QTest::newRow("eager module") << "bad/eager_module.pt" << "torch.save pickle (an eager nn.Module";
    QTest::newRow("legacy pickle") << "bad/legacy_state_dict.pt" << "torch.save pickle (the legacy format)";
}

void TestModelLoading::badFilesGetOneClearLine()
{
    QFETCH(QString, file);
    QFETCH(QString, cause);
    const std::string path = QDir(LAYERSCOPE_FIXTURES_DIR).filePath(file).toStdString();
    try {
        Model::load(path);
        QFAIL("loaded a bad file");
    } catch (const Error& error) {
        const QString message = QString::fromUtf8(error.what());
        QVERIFY2(message.startsWith(QString::fromStdString(path) + ": "), qPrintable(message));
        QVERIFY2(message.contains(cause), qPrintable(message));
        QVERIFY2(!message.contains('\n'), qPrintable(message));
        if (cause.contains("torch.save"))
            QVERIFY2(message.contains("torch.jit.trace") && message.contains("torch.jit.script"), qPrintable(message));
    }
}

QTEST_APPLESS_MAIN(TestModelLoading)
#include "tst_modelloading.moc"
