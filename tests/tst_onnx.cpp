// ONNX models exported by PyTorch (tests/fixtures/onnx_fixtures.py), opened by LayerScope and run
// through OpenCV DNN: the tree, every capture against PyTorch's forward hooks on the same eager model,
// the folded convolutions of TrainingMode.EVAL, and files that must be refused in one line.

#include "testsupport.h"

#include "layerscope/attribution.h"
#include "layerscope/error.h"
#include "layerscope/extraction.h"
#include "layerscope/model.h"
#include "layerscope/statistics.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QSet>
#include <QTemporaryDir>
#include <QtTest>

using namespace layerscope;
using namespace layerscope::test;

namespace {

QString onnxCase(const QString& name) { return "onnx/" + name; }

QSet<QString> stringSet(const QJsonValue& value)
{
    QSet<QString> set;
    for (const auto& v : value.toArray())
        set.insert(v.toString());
    return set;
}

// "layer1.0.relu:1" and "enc[0]" belong to the modules "layer1.0.relu" and "enc".
QString moduleOfKey(const QString& key)
{
    QString name = key.section('[', 0, 0);
    const int colon = name.lastIndexOf(':');
    return colon > 0 ? name.left(colon) : name;
}

CaptureRequest everyCapturableModule(const Model& model)
{
    CaptureRequest request;
    for (const auto& m : model.modules())
        if (!m.name.empty() && m.hasForward && m.unavailable.empty())
            request.outputsOf.push_back(m.name);
    return request;
}

QString errorOf(const std::function<void()>& action)
{
    try {
        action();
    } catch (const Error& error) {
        return QString::fromStdString(error.what());
    }
    return {};
}

} // namespace

class TestOnnx : public QObject {
    Q_OBJECT

private slots:
    void everyModuleEqualsItsForwardHook_data();
    void everyModuleEqualsItsForwardHook();
    void treeAndParametersAreThePyTorchModules_data();
    void treeAndParametersAreThePyTorchModules();
    void foldedConvolutionsAreFlaggedNeverReported_data();
    void foldedConvolutionsAreFlaggedNeverReported();
    void repeatedModuleHasOneKeyPerCall();
    void imageChannelsComeFromTheFirstConvolution();
    void fixedImageSizeIsNamed();
    void rewritesForOpenCvAreNoted();
    void eigenCamNeedsNoGradient();
    void unsupportedOperatorsAreListed();
    void craftedFilesGetOneLine_data();
    void craftedFilesGetOneLine();
    void fuzzFindingsStayFixed();
    void cliListsTheTreeAndExtractsEveryModule();
    void folderExtractionTakesTurns();
};

void TestOnnx::everyModuleEqualsItsForwardHook_data()
{
    QTest::addColumn<QString>("name");
    for (const char* name :
         {"resnet18_preserve", "resnet18_eval", "seed_cnn_preserve", "seed_cnn_eval", "two_views_preserve",
          "mobilenet_v3_small_preserve", "mobilenet_v2_preserve", "googlenet_preserve", "densenet121_preserve"})
        QTest::newRow(name) << QString(name);
}

void TestOnnx::everyModuleEqualsItsForwardHook()
{
    QFETCH(QString, name);
    const Model model = Model::load(fixturePath(onnxCase(name), "model.onnx"));
    QCOMPARE(model.formatName(), std::string("ONNX"));
    const RunResult result = model.run(fixtureInputs(onnxCase(name)), everyCapturableModule(model));
    const auto reference = readNpzAsMap(fixturePath(onnxCase(name), "reference.npz"));
    const QJsonObject expected = expectedJson(onnxCase(name));

    QSet<QString> captured;
    for (const auto& capture : result.captures) {
        const QString key = QString::fromStdString(capture.key);
        const auto it = reference.find(capture.key);
        QVERIFY2(it != reference.end(), qPrintable(key + " is not a key PyTorch's hooks give"));
        const double difference = relativeDifference(capture.tensor, it->second);
        QVERIFY2(difference <= 1e-4, qPrintable(QString("%1 differs by %2 (relative)").arg(key).arg(difference)));
        captured.insert(key);
    }
    QCOMPARE(result.outputs.size(), std::size_t(1));
    QVERIFY(relativeDifference(result.outputs[0].tensor, reference.at("output")) <= 1e-4);

    // Every module that computes something is recovered, except what EVAL folded away.
    const QSet<QString> computeNothing = stringSet(expected["empty_in_eval"]);
    const QSet<QString> folded = stringSet(expected["folded"]) + stringSet(expected["folded_batchnorms"]);
    for (const auto& [key, tensor] : reference) {
        const QString k = QString::fromStdString(key);
        if (k == "output" || computeNothing.contains(moduleOfKey(k)) || folded.contains(moduleOfKey(k)))
            continue;
        QVERIFY2(captured.contains(k), qPrintable(k + " was not captured"));
    }
    QVERIFY(captured.size() >= 12);

    // In the order PyTorch's hooks saw the calls end.
    QStringList got, hooks;
    for (const auto& capture : result.captures)
        got << QString::fromStdString(capture.key);
    for (const auto& key : expected["order"].toArray())
        if (captured.contains(key.toString()))
            hooks << key.toString();
    QCOMPARE(got, hooks);
}

void TestOnnx::treeAndParametersAreThePyTorchModules_data()
{
    QTest::addColumn<QString>("name");
    for (const char* name : {"resnet18_preserve", "two_views_preserve", "mobilenet_v2_preserve", "googlenet_preserve",
                             "densenet121_preserve"})
        QTest::newRow(name) << QString(name);
}

void TestOnnx::treeAndParametersAreThePyTorchModules()
{
    QFETCH(QString, name);
    const Model model = Model::load(fixturePath(onnxCase(name), "model.onnx"));
    QHash<QString, QJsonObject> pytorch;
    for (const auto& m : expectedJson(onnxCase(name))["modules"].toArray())
        pytorch.insert(m.toObject()["name"].toString(), m.toObject());

    QCOMPARE(model.modules()[0].totalParameters, qint64(pytorch[""]["total"].toDouble()));
    int compared = 0;
    for (const auto& m : model.modules()) {
        const QString moduleName = QString::fromStdString(m.name);
        QVERIFY2(pytorch.contains(moduleName), qPrintable(moduleName + " is not a PyTorch module"));
        if (m.name.empty())
            continue;
        QVERIFY2(m.totalParameters == qint64(pytorch[moduleName]["total"].toDouble()),
                 qPrintable(QString("%1: %2 parameters, PyTorch counts %3")
                                .arg(moduleName)
                                .arg(m.totalParameters)
                                .arg(pytorch[moduleName]["total"].toDouble())));
        const auto& parent = model.modules()[std::size_t(m.parent)];
        QVERIFY(m.name.rfind(parent.name, 0) == 0);
        ++compared;
    }
    QVERIFY(compared >= 20);
    if (name == "resnet18_preserve") {
        QCOMPARE(model.modules()[std::size_t(model.findModule("layer1.0.conv1"))].typeName, std::string("Conv"));
        QCOMPARE(model.modules()[std::size_t(model.findModule("fc"))].typeName, std::string("Gemm"));
        QCOMPARE(model.signature(), std::string("forward(input0: Tensor[?, 3, 112, 112]) -> Tensor"));
    }
}

void TestOnnx::foldedConvolutionsAreFlaggedNeverReported_data()
{
    QTest::addColumn<QString>("name");
    QTest::newRow("resnet18") << "resnet18_eval";
    QTest::newRow("seed CNN") << "seed_cnn_eval";
}

void TestOnnx::foldedConvolutionsAreFlaggedNeverReported()
{
    QFETCH(QString, name);
    const Model model = Model::load(fixturePath(onnxCase(name), "model.onnx"));
    const QSet<QString> folded = stringSet(expectedJson(onnxCase(name))["folded"]);
    QVERIFY(folded.size() >= 4);
    QSet<QString> flagged;
    for (const auto& m : model.modules())
        if (!m.unavailable.empty())
            flagged.insert(QString::fromStdString(m.name));
    QCOMPARE(flagged, folded);

    const std::string first = folded.values().first().toStdString();
    CaptureRequest request;
    request.outputsOf = {first};
    const QString refusal = errorOf([&] { model.run(fixtureInputs(onnxCase(name)), request); });
    QVERIFY2(refusal.contains(QString::fromStdString("'" + first + "' cannot be captured"))
                 && refusal.contains("BatchNorm") && refusal.contains("TrainingMode.PRESERVE"),
             qPrintable(refusal));

    // Capturing everything else never hands out a folded value under a module's name.
    const RunResult result = model.run(fixtureInputs(onnxCase(name)), everyCapturableModule(model));
    for (const auto& capture : result.captures)
        QVERIFY2(!folded.contains(QString::fromStdString(capture.module)), capture.key.c_str());
}

void TestOnnx::repeatedModuleHasOneKeyPerCall()
{
    const QString name = onnxCase("two_views_preserve");
    const Model model = Model::load(fixturePath(name, "model.onnx"));
    QCOMPARE(model.forwardArguments().size(), std::size_t(2));
    CaptureRequest request;
    request.outputsOf = {"feature_model", "feature_model.cnn.0.2"};
    const RunResult result = model.run(fixtureInputs(name), request);
    QStringList keys;
    for (const auto& capture : result.captures)
        keys << QString::fromStdString(capture.key);
    keys.sort();
    QCOMPARE(keys,
             QStringList({"feature_model", "feature_model.cnn.0.2", "feature_model.cnn.0.2:1", "feature_model:1"}));
    const auto reference = readNpzAsMap(fixturePath(name, "reference.npz"));
    for (const auto& capture : result.captures)
        QVERIFY(relativeDifference(capture.tensor, reference.at(capture.key)) <= 1e-4);
}

void TestOnnx::imageChannelsComeFromTheFirstConvolution()
{
    QCOMPARE(Model::load(fixturePath(onnxCase("resnet18_preserve"), "model.onnx")).imageChannelsHint(), 3);
    QCOMPARE(Model::load(fixturePath(onnxCase("seed_cnn_eval"), "model.onnx")).imageChannelsHint(), 1);
    QCOMPARE(Model::load(fixturePath(onnxCase("seed_cnn_eval"), "model.onnx")).parameterDType(), DType::Float32);
}

void TestOnnx::fixedImageSizeIsNamed()
{
    const Model model = Model::load(fixturePath(onnxCase("resnet18_preserve"), "model.onnx"));
    try {
        model.run({Tensor::zeros({1, 3, 100, 90}, DType::Float32)});
        QFAIL("a 100x90 image ran through a model exported at 112x112");
    } catch (const InputSizeError& error) {
        QCOMPARE(error.height, 112);
        QCOMPARE(error.width, 112);
        QVERIFY2(QString(error.what()).contains("--resize 112x112"), error.what());
    }
    // Another batch size is fine: the exporter was told the batch axis is dynamic.
    QCOMPARE(model.run({Tensor::zeros({3, 3, 112, 112}, DType::Float32)}).outputs[0].tensor.shape,
             (std::vector<std::int64_t> {3, 1000}));
}

void TestOnnx::rewritesForOpenCvAreNoted()
{
    auto notesOf = [](const char* name) {
        const Model model = Model::load(fixturePath(onnxCase(name), "model.onnx"));
        QString all;
        for (const auto& note : model.notes())
            all += QString::fromStdString(note) + "\n";
        return all;
    };
    QVERIFY2(
        notesOf("mobilenet_v3_small_preserve").contains("shared weights (Identity nodes) made separate initializers"),
        qPrintable(notesOf("mobilenet_v3_small_preserve")));
    QVERIFY2(notesOf("mobilenet_v2_preserve").contains("Clip nodes given their bounds as attributes"),
             qPrintable(notesOf("mobilenet_v2_preserve")));
    QVERIFY(notesOf("resnet18_preserve").isEmpty());
}

void TestOnnx::eigenCamNeedsNoGradient()
{
    const QString name = onnxCase("resnet18_preserve");
    const Model model = Model::load(fixturePath(name, "model.onnx"));
    QVERIFY(!model.hasGradients());
    const auto reference = readNpzAsMap(fixturePath(name, "cam_reference.npz"));
    AttributionRequest request;
    request.method = AttributionMethod::EigenCam;
    request.layer = "layer4";
    const Attribution got = explain(model, fixtureInputs(name), request);
    QVERIFY(relativeDifference(got.cam, reference.at("eigencam")) <= 1e-4);
    const std::vector<double> classes = valuesAsDoubles(reference.at("class"));
    QCOMPARE(got.classes.size(), classes.size());
    for (std::size_t i = 0; i < classes.size(); ++i)
        QCOMPARE(double(got.classes[i]), classes[i]);

    request.method = AttributionMethod::GradCam;
    const QString refusal = errorOf([&] { explain(model, fixtureInputs(name), request); });
    QVERIFY2(refusal.contains("ONNX models run without gradients") && refusal.contains("EigenCAM"),
             qPrintable(refusal));
}

void TestOnnx::unsupportedOperatorsAreListed()
{
    const std::string path = fixturePath(onnxCase("vit_opset17"), "model.onnx");
    const QString message = errorOf([&] { Model::load(path); });
    QVERIFY2(message.startsWith(QString::fromStdString(path + ": OpenCV DNN cannot run")), qPrintable(message));
    QVERIFY2(message.contains("LayerNormalization (3 nodes, first in blocks.0.norm)"), qPrintable(message));
    QVERIFY(!message.contains('\n'));
}

void TestOnnx::craftedFilesGetOneLine_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("cause");
    QTest::newRow("truncated") << "truncated.onnx"
                               << "not an ONNX model";
    QTest::newRow("random bytes") << "random.onnx"
                                  << "not an ONNX model";
    QTest::newRow("weights shorter than their shape") << "short_weight.onnx"
                                                      << "declares 400 values but holds 16";
    QTest::newRow("shape past any memory") << "huge_dims.onnx"
                                           << "impossible shape";
    QTest::newRow("data in another file") << "external_data.onnx"
                                          << "external file";
    QTest::newRow("nodes out of order") << "out_of_order.onnx"
                                        << "before any node makes it";
}

void TestOnnx::craftedFilesGetOneLine()
{
    QFETCH(QString, file);
    QFETCH(QString, cause);
    const std::string path = fixturePath("onnx/bad", file);
    const QString message = errorOf([&] { Model::load(path); });
    QVERIFY2(message.startsWith(QString::fromStdString(path + ": ")) && message.contains(cause), qPrintable(message));
    QVERIFY(!message.contains('\n'));
}

// What fuzz_onnx found (tests/fuzz/regressions/onnx): each loads, or is refused in one line naming it.
void TestOnnx::fuzzFindingsStayFixed()
{
    const QDir folder(QString(LAYERSCOPE_TESTS_SOURCE_DIR) + "/fuzz/regressions/onnx");
    const QStringList files = folder.entryList(QDir::Files);
    QVERIFY(!files.isEmpty());
    for (const QString& file : files) {
        const std::string path = folder.filePath(file).toStdString();
        const QString message = errorOf([&] { Model::load(path); });
        QVERIFY2(message.isEmpty() || message.startsWith(QString::fromStdString(path + ": ")), qPrintable(message));
    }
}

void TestOnnx::cliListsTheTreeAndExtractsEveryModule()
{
    const QString model = QString::fromStdString(fixturePath(onnxCase("resnet18_preserve"), "model.onnx"));
    const auto listed = runProgram(LAYERSCOPE_CLI, {"modules", model});
    QCOMPARE(listed.exitCode, 0);
    QVERIFY2(QRegularExpression(R"(\n    layer1\.0\.conv1 +Conv +36,864\n)").match(listed.out).hasMatch(),
             qPrintable(listed.out));
    QVERIFY(listed.out.contains("11,689,512"));

    const QString eval = onnxCase("resnet18_eval");
    const auto evalListed
        = runProgram(LAYERSCOPE_CLI, {"modules", QString::fromStdString(fixturePath(eval, "model.onnx"))});
    QVERIFY2(evalListed.out.contains("* 20 modules run but cannot be captured: the exporter folded the BatchNorm"),
             qPrintable(evalListed.out));

    QTemporaryDir dir;
    const QString out = dir.filePath("out.npz");
    const auto extracted = runProgram(LAYERSCOPE_CLI,
                                      {"extract", QString::fromStdString(fixturePath(eval, "model.onnx")), "--input",
                                       QString::fromStdString(fixturePath(eval, "input0.npy")), "--all", "--out", out});
    QVERIFY2(extracted.exitCode == 0, qPrintable(extracted.err));
    const auto arrays = readNpzAsMap(out.toStdString());
    const auto reference = readNpzAsMap(fixturePath(eval, "reference.npz"));
    QCOMPARE(arrays.size(), std::size_t(36)); // 56 called modules + output, less the 20 folded convolutions
    for (const auto& [key, tensor] : arrays) {
        QVERIFY2(reference.count(key), key.c_str());
        QVERIFY2(relativeDifference(tensor, reference.at(key)) <= 1e-4, key.c_str());
    }
    QVERIFY(arrays.count("layer1.0.relu:1") && arrays.count("output") && !arrays.count("layer1.0.conv1"));

    QFile manifestFile(out + ".manifest.json");
    QVERIFY(manifestFile.open(QIODevice::ReadOnly));
    const QJsonObject manifest = QJsonDocument::fromJson(manifestFile.readAll()).object();
    QCOMPARE(manifest["model"].toObject()["format"].toString(), QString("ONNX"));
    QSet<QString> uncapturable;
    for (const auto& entry : manifest["uncapturable_modules"].toArray())
        uncapturable.insert(entry.toObject()["module"].toString());
    QCOMPARE(uncapturable, stringSet(expectedJson(eval)["folded"]));
}

// OpenCV keeps a net's blobs between calls: asked for streams, an ONNX model's batches take turns,
// and the output is what one stream writes.
void TestOnnx::folderExtractionTakesTurns()
{
    QTemporaryDir dir;
    const Model model = Model::load(fixturePath(onnxCase("seed_cnn_preserve"), "model.onnx"));
    QVERIFY(!model.forwardsRunSideBySide());
    ExtractionJob job;
    job.inputs = {QDir(LAYERSCOPE_FIXTURES_DIR).filePath("dataset").toStdString()};
    job.preprocessing = Preprocessing::gray(101);
    job.batchSize = 4;
    job.request.outputsOf = {"cnn.3"};
    job.outputPath = dir.filePath("one.npz").toStdString();
    job.streams = 1;
    const ExtractionResult one = runExtraction(model, job);
    job.outputPath = dir.filePath("asked.npz").toStdString();
    job.streams = 3;
    const ExtractionResult asked = runExtraction(model, job);
    QCOMPARE(asked.streams, 1);
    QCOMPARE(asked.rows, one.rows);
    QVERIFY(asked.rows > 4);
    const auto a = readNpzAsMap(dir.filePath("one.npz").toStdString());
    const auto b = readNpzAsMap(dir.filePath("asked.npz").toStdString());
    QCOMPARE(b.size(), a.size());
    for (const auto& [key, tensor] : a)
        QVERIFY2(maxAbsDifference(b.at(key), tensor) == 0, key.c_str());
}

QTEST_GUILESS_MAIN(TestOnnx)
#include "tst_onnx.moc"
