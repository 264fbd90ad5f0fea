// Class activation maps and saliency on the compiled model, against the eager model in Python
// (tests/fixtures/cam_reference.py: a forward hook keeps the target's output, torch.autograd.grad).

#include "layerscope/attribution.h"
#include "layerscope/error.h"
#include "layerscope/npy.h"
#include "layerscope/statistics.h"
#include "testsupport.h"

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

using namespace layerscope;
using namespace layerscope::test;

namespace {

// Largest difference relative to the reference's largest magnitude (maps range from 1e-3 to 1e2).
double relativeDifference(const Tensor& got, const Tensor& expected)
{
    double scale = 1e-12;
    for (double v : valuesAsDoubles(expected))
        scale = std::max(scale, std::abs(v));
    return maxAbsDifference(got, expected) / scale;
}

QString errorOf(const std::function<void()>& action)
{
    try {
        action();
    } catch (const Error& error) {
        return error.what();
    }
    return "no error";
}

} // namespace

class TestAttribution : public QObject {
    Q_OBJECT

private slots:
    void everyMethodEqualsTheEagerModel_data();
    void everyMethodEqualsTheEagerModel();
    void inPlaceFollowerIsKeptApart();
    void chosenClassIsExplained();
    void badTargetsSayWhy();
    void cliWritesMapsClassesScoresAndManifest();
};

void TestAttribution::everyMethodEqualsTheEagerModel_data()
{
    QTest::addColumn<QString>("fixture");
    QTest::addColumn<QString>("method");
    for (const char* fixture : {"resnet18_scripted", "resnet18_traced", "inplace_scripted", "inplace_traced"})
        for (const auto& method : attributionMethodNames())
            QTest::addRow("%s %s", fixture, method.c_str()) << QString(fixture) << QString::fromStdString(method);
}

void TestAttribution::everyMethodEqualsTheEagerModel()
{
    QFETCH(QString, fixture);
    QFETCH(QString, method);
    const Model model = Model::load(fixturePath(fixture, "model.pt"));
    const auto reference = readNpzAsMap(fixturePath(fixture, "cam_reference.npz"));
    AttributionRequest request;
    request.method = attributionMethodFromName(method.toStdString());
    request.layer = fixture.startsWith("resnet") ? "layer4" : "features.0";
    const Attribution got = explain(model, {readNpy(fixturePath(fixture, "input0.npy"))}, request);
    const Tensor& expected = reference.at(method.toStdString());
    QCOMPARE(shapeToString(got.cam.shape), shapeToString(expected.shape));
    QCOMPARE(got.cam.dtype, DType::Float32);
    const double difference = relativeDifference(got.cam, expected);
    QVERIFY2(difference <= 1e-5, qPrintable(QString("relative difference %1").arg(difference)));
    const std::vector<double> classes = valuesAsDoubles(reference.at("class"));
    const std::vector<double> scores = valuesAsDoubles(reference.at("score"));
    for (std::size_t i = 0; i < classes.size(); ++i) {
        QCOMPARE(double(got.classes[i]), classes[i]);
        QVERIFY(std::abs(got.scores[i] - scores[i]) <= 1e-4 * std::max(1.0, std::abs(scores[i])));
    }
}

// features.0 is followed by ReLU(inplace=True): without the tap, dS/dA would be of the ReLU's output.
void TestAttribution::inPlaceFollowerIsKeptApart()
{
    const Model model = Model::load(fixturePath("inplace_scripted", "model.pt"));
    GradientRequest request;
    request.target = "features.0";
    const Gradients kept = model.gradients({readNpy(fixturePath("inplace_scripted", "input0.npy"))}, request);
    QVERIFY(kept.tapped);
    double negatives = 0; // the conv's own output, before the ReLU changed it
    for (double v : valuesAsDoubles(kept.activation))
        negatives += v < 0;
    QVERIFY(negatives > 0);
    request.target = "features.2"; // followed by ReLU too; the next one (features.3) is not changed
    QVERIFY(model.gradients({readNpy(fixturePath("inplace_scripted", "input0.npy"))}, request).tapped);
    request.target = "features.3";
    QVERIFY(!model.gradients({readNpy(fixturePath("inplace_scripted", "input0.npy"))}, request).tapped);
}

// A class other than the top one: its score is that logit, and the map differs.
void TestAttribution::chosenClassIsExplained()
{
    const Model model = Model::load(fixturePath("resnet18_scripted", "model.pt"));
    const Tensor input = readNpy(fixturePath("resnet18_scripted", "input0.npy"));
    AttributionRequest request;
    request.layer = "layer4";
    const Attribution top = explain(model, {input}, request);
    request.classes = {5, -1};
    const Attribution five = explain(model, {input}, request);
    QCOMPARE(five.classes[0], std::int64_t(5));
    QCOMPARE(five.classes[1], top.classes[1]);
    const RunResult run = model.run({input});
    QVERIFY(std::abs(five.scores[0] - valuesAsDoubles(run.outputs[0].tensor)[5]) <= 1e-4);
    QVERIFY(maxAbsDifference(sampleOf(five.cam, 0), sampleOf(top.cam, 0)) > 0);
    request.classes = {1000, 0};
    QVERIFY(errorOf([&] { explain(model, {input}, request); }).contains("class 1000 is out of range"));
}

void TestAttribution::badTargetsSayWhy()
{
    const Model model = Model::load(fixturePath("resnet18_scripted", "model.pt"));
    const Tensor input = readNpy(fixturePath("resnet18_scripted", "input0.npy"));
    AttributionRequest request;
    request.layer = "layer5";
    QVERIFY(errorOf([&] { explain(model, {input}, request); }).contains("did you mean 'layer"));
    request.layer = "fc";
    const QString flat = errorOf([&] { explain(model, {input}, request); });
    QVERIFY2(flat.contains("[2, 1000]") && flat.contains("needs [N, C, H, W]"), qPrintable(flat));
    request.layer = "";
    QVERIFY(errorOf([&] { explain(model, {input}, request); }).contains("needs a target module"));
    const Model tuple = Model::load(fixturePath("tuple_scripted", "model.pt"));
    request.method = AttributionMethod::Saliency;
    const QString notScores
        = errorOf([&] { explain(tuple, {readNpy(fixturePath("tuple_scripted", "input0.npy"))}, request); });
    QVERIFY2(notScores.contains("[N, classes]"), qPrintable(notScores));
}

void TestAttribution::cliWritesMapsClassesScoresAndManifest()
{
    QTemporaryDir out;
    const QString npz = out.filePath("maps.npz");
    const ProcessOutcome cli
        = runProgram(LAYERSCOPE_CLI,
                     {"cam", QString::fromStdString(fixturePath("resnet18_traced", "model.pt")), "--input",
                      QString::fromStdString(fixturePath("resnet18_traced", "input0.npy")), "--layer", "layer4",
                      "--method", "gradcampp", "--batch-size", "1", "--out", npz, "--quiet"});
    QVERIFY2(cli.exitCode == 0, qPrintable(cli.err));
    const auto got = readNpzAsMap(npz.toStdString());
    const auto reference = readNpzAsMap(fixturePath("resnet18_traced", "cam_reference.npz"));
    QVERIFY(relativeDifference(got.at("cam"), reference.at("gradcampp")) <= 1e-5);
    QCOMPARE(got.at("class").dtype, DType::Int64);
    QCOMPARE(valuesAsDoubles(got.at("class")), valuesAsDoubles(reference.at("class")));
    QCOMPARE(got.at("score").dtype, DType::Float32);
    QFile manifest(npz + ".manifest.json");
    QVERIFY(manifest.open(QIODevice::ReadOnly));
    const QJsonObject method = QJsonDocument::fromJson(manifest.readAll()).object()["method"].toObject();
    QCOMPARE(method["name"].toString(), QString("gradcampp"));
    QCOMPARE(method["layer"].toString(), QString("layer4"));

    const ProcessOutcome wrong
        = runProgram(LAYERSCOPE_CLI,
                     {"cam", QString::fromStdString(fixturePath("resnet18_traced", "model.pt")), "--input",
                      QString::fromStdString(fixturePath("resnet18_traced", "input0.npy")), "--method", "gradcam",
                      "--out", out.filePath("none.npz")});
    QCOMPARE(wrong.exitCode, 1);
    QVERIFY2(wrong.err.contains("needs exactly one target module"), qPrintable(wrong.err));
    QVERIFY(!QFile::exists(out.filePath("none.npz")));
}

QTEST_MAIN(TestAttribution)
#include "tst_attribution.moc"
