// Class activation maps and saliency on the compiled model, against the eager model in Python
// (tests/fixtures/cam_reference.py: a forward hook keeps the target's output, torch.autograd.grad).

#include "layerscope/attribution.h"
#include "layerscope/error.h"
#include "layerscope/npy.h"
#include "layerscope/preprocessing.h"
#include "layerscope/render.h"
#include "layerscope/statistics.h"
#include "testsupport.h"

#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

using namespace layerscope;
using namespace layerscope::test;

namespace {

void compareMap(const Tensor& got, const Tensor& expected)
{
    QCOMPARE(shapeToString(got.shape), shapeToString(expected.shape));
    QCOMPARE(got.dtype, DType::Float32);
    const double difference = relativeDifference(got, expected);
    QVERIFY2(difference <= 1e-5, qPrintable(QString("relative difference %1").arg(difference)));
}

// The request the reference was computed with (fewer noisy copies and steps than the defaults).
AttributionRequest referenceRequest(const std::map<std::string, Tensor>& reference, const std::string& method)
{
    AttributionRequest request;
    request.method = attributionMethodFromName(method);
    request.samples = int(valuesAsDoubles(reference.at("smoothgrad_samples"))[0]);
    request.noise = valuesAsDoubles(reference.at("smoothgrad_noise"))[0];
    request.seed = std::uint64_t(valuesAsDoubles(reference.at("smoothgrad_seed"))[0]);
    request.steps = int(valuesAsDoubles(reference.at("integrated_steps"))[0]);
    return request;
}

std::string targetOf(const QString& fixture)
{
    if (fixture.startsWith("resnet"))
        return "layer4";
    if (fixture.startsWith("nested"))
        return "feature_model.cnn:1"; // the second call: the second argument's branch
    if (fixture.startsWith("vit"))
        return "blocks.1.norm"; // [N, 17, 32] tokens
    return "features.0";
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
    void integratedGradientsFromABlurredInput();
    void smoothGradIsSeeded();
    void overlayUpsamplesLikePyTorch();
    void inPlaceFollowerIsKeptApart();
    void chosenClassIsExplained();
    void defaultTargetIsTheLastSpatialStage();
    void tokenLayoutsCanBeGiven();
    void badTargetsSayWhy();
    void cliWritesMapsClassesScoresAndManifest();
    void cliWritesOverlaysOfAFolder();
};

void TestAttribution::everyMethodEqualsTheEagerModel_data()
{
    QTest::addColumn<QString>("fixture");
    QTest::addColumn<QString>("method");
    for (const char* fixture : {"resnet18_scripted", "resnet18_traced", "inplace_scripted", "inplace_traced",
                                "nested_scripted", "vit_scripted"})
        for (const auto& method : attributionMethodNames())
            QTest::addRow("%s %s", fixture, method.c_str()) << QString(fixture) << QString::fromStdString(method);
}

void TestAttribution::everyMethodEqualsTheEagerModel()
{
    QFETCH(QString, fixture);
    QFETCH(QString, method);
    const Model model = Model::load(fixturePath(fixture, "model.pt"));
    const auto reference = readNpzAsMap(fixturePath(fixture, "cam_reference.npz"));
    AttributionRequest request = referenceRequest(reference, method.toStdString());
    request.layer = targetOf(fixture);
    const std::vector<Tensor> inputs = fixtureInputs(fixture);
    const Attribution got = explain(model, inputs, request);
    const std::string key = method.toStdString();
    compareMap(got.cam, reference.at(key));
    if (isInputAttribution(request.method)) { // one map per argument: the two-input model's second
        QCOMPARE(got.inputMaps.size(), inputs.size());
        for (std::size_t a = 1; a < inputs.size(); ++a)
            compareMap(got.inputMaps[a], reference.at(key + "_input" + std::to_string(a)));
    }
    const std::vector<double> classes = valuesAsDoubles(reference.at("class"));
    const std::vector<double> scores = valuesAsDoubles(reference.at("score"));
    for (std::size_t i = 0; i < classes.size(); ++i) {
        QCOMPARE(double(got.classes[i]), classes[i]);
        QVERIFY(std::abs(got.scores[i] - scores[i]) <= 1e-4 * std::max(1.0, std::abs(scores[i])));
    }
    if (fixture == "vit_scripted" && !isInputAttribution(request.method))
        QVERIFY2(QString::fromStdString(got.note).contains("a class token first, then a 4x4 grid"), got.note.c_str());
    if (request.method == AttributionMethod::IntegratedGradients) {
        const std::vector<double> delta = valuesAsDoubles(reference.at(key + "-delta"));
        QCOMPARE(got.convergenceDelta.size(), delta.size());
        for (std::size_t i = 0; i < delta.size(); ++i)
            QVERIFY2(std::abs(got.convergenceDelta[i] - delta[i]) <= 1e-4 * std::max(1.0, std::abs(scores[i])),
                     qPrintable(QString("delta %1 vs %2").arg(got.convergenceDelta[i]).arg(delta[i])));
    }
}

// The blurred baseline, and what tells a user that the steps were enough: the convergence delta.
void TestAttribution::integratedGradientsFromABlurredInput()
{
    const auto reference = readNpzAsMap(fixturePath("resnet18_traced", "cam_reference.npz"));
    const Model model = Model::load(fixturePath("resnet18_traced", "model.pt"));
    AttributionRequest request = referenceRequest(reference, "integrated-gradients");
    request.baseline = Baseline::Blur;
    const Attribution blurred = explain(model, fixtureInputs("resnet18_traced"), request);
    compareMap(blurred.cam, reference.at("integrated-gradients-blur"));
    const std::vector<double> delta = valuesAsDoubles(reference.at("integrated-gradients-blur-delta"));
    for (std::size_t i = 0; i < delta.size(); ++i)
        QVERIFY(std::abs(blurred.convergenceDelta[i] - delta[i]) <= 1e-3);
    // More steps, a smaller delta: the Riemann sum converges to S(x) - S(baseline).
    request.steps = 24;
    const Attribution finer = explain(model, fixtureInputs("resnet18_traced"), request);
    for (std::size_t i = 0; i < delta.size(); ++i)
        QVERIFY2(std::abs(finer.convergenceDelta[i]) < std::abs(blurred.convergenceDelta[i]),
                 qPrintable(QString("%1 vs %2").arg(finer.convergenceDelta[i]).arg(blurred.convergenceDelta[i])));
}

// SmoothGrad is seeded: the same seed gives the same map, another seed another one.
void TestAttribution::smoothGradIsSeeded()
{
    const Model model = Model::load(fixturePath("inplace_scripted", "model.pt"));
    AttributionRequest request;
    request.method = AttributionMethod::SmoothGrad;
    request.samples = 3;
    const Attribution first = explain(model, fixtureInputs("inplace_scripted"), request);
    QCOMPARE(maxAbsDifference(explain(model, fixtureInputs("inplace_scripted"), request).cam, first.cam), 0.0);
    request.seed = 1;
    QVERIFY(maxAbsDifference(explain(model, fixtureInputs("inplace_scripted"), request).cam, first.cam) > 0);
    request.samples = 0;
    QVERIFY(errorOf([&] { explain(model, fixtureInputs("inplace_scripted"), request); }).contains("--samples >= 1"));
}

// What an overlay draws: the map upsampled as PyTorch's bilinear interpolation does, in [0, 1].
void TestAttribution::overlayUpsamplesLikePyTorch()
{
    const auto reference = readNpzAsMap(fixturePath("resnet18_scripted", "cam_reference.npz"));
    const Tensor& cam = reference.at("gradcam");
    const Tensor& expected = reference.at("gradcam_upsampled");
    for (std::int64_t i = 0; i < cam.shape[0]; ++i) {
        const Tensor got = upsampledMap(sampleOf(cam, i), 112, 112);
        QCOMPARE(shapeToString(got.shape), std::string("[112, 112]"));
        Tensor reference = sampleOf(expected, i);
        reference.shape = {112, 112};
        const double difference = maxAbsDifference(got, reference);
        QVERIFY2(difference <= 1e-5, qPrintable(QString("sample %1: %2").arg(i).arg(difference)));
    }
    const Tensor image = sampleOf(readNpy(fixturePath("resnet18_scripted", "input0.npy")), 0);
    const RgbImage hidden = renderOverlay(image, sampleOf(cam, 0), Colormap::Jet, 0.0);
    const RgbImage plain = renderInputImage(image);
    QCOMPARE(hidden.pixels, plain.pixels); // opacity 0: the image alone
    const RgbImage full = renderOverlay(image, sampleOf(cam, 0), Colormap::Jet, 1.0);
    const Tensor level = upsampledMap(sampleOf(cam, 0), 112, 112);
    const auto hottest
        = std::max_element(level.values<float>(), level.values<float>() + 112 * 112) - level.values<float>();
    const auto colour = colormapColor(Colormap::Jet, 1.0);
    for (int c = 0; c < 3; ++c) // opacity 1: the colormap alone, its top colour where the map peaks
        QCOMPARE(int(full.pixels[std::size_t(hottest) * 3 + c]), int(colour[std::size_t(c)]));
    Tensor negated = Tensor::zeros({4, 4}, DType::Float32); // a signed map is drawn by its magnitude
    for (int i = 0; i < 16; ++i)
        static_cast<float*>(negated.mutableData())[i] = -sampleOf(cam, 0).values<float>()[i];
    QCOMPARE(renderOverlay(image, negated, Colormap::Jet, 1.0).pixels, full.pixels);
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

// The Explain view's default target: the last convolutional stage before pooling.
void TestAttribution::defaultTargetIsTheLastSpatialStage()
{
    const auto defaultOf = [](const char* fixture) {
        const Model model = Model::load(fixturePath(fixture, "model.pt"));
        CaptureRequest everything;
        for (const auto& module : model.modules())
            if (!module.name.empty())
                everything.outputsOf.push_back(module.name);
        return defaultAttributionTarget(model.run(fixtureInputs(fixture), everything));
    };
    QCOMPARE(defaultOf("resnet18_traced"), std::string("layer4"));
    QCOMPARE(defaultOf("nested_scripted"), std::string("feature_model.cnn:1")); // the second argument's
    QCOMPARE(defaultOf("vit_scripted"), std::string("patches"));                // [N, 32, 4, 4]: the patch embedding
}

// A token layout that is not detected: given, and the extra tokens left out.
void TestAttribution::tokenLayoutsCanBeGiven()
{
    Tensor tokens = Tensor::zeros({1, 8, 2}, DType::Float32); // 2 leading tokens, a 2x3 grid
    for (int i = 0; i < 16; ++i)
        static_cast<float*>(tokens.mutableData())[i] = float(i);
    std::string note;
    QVERIFY(errorOf([&] { tokensAsGrid(tokens, &note); }).contains("give --leading-tokens and --token-grid"));
    const Tensor grid = tokensAsGrid(tokens, &note, {2, 2, 3});
    QCOMPARE(shapeToString(grid.shape), std::string("[1, 2, 2, 3]"));
    QCOMPARE(note, std::string("2 leading tokens, then a 2x3 grid of patches"));
    // channel 0 of the patches: tokens 2..7, feature 0 (values 4, 6, ... 14); channel 1 feature 1
    QCOMPARE(valuesAsDoubles(grid), (std::vector<double> {4, 6, 8, 10, 12, 14, 5, 7, 9, 11, 13, 15}));
    tokensAsGrid(tokens, &note, {1, 2, 2}); // a distillation token's place left out at the end
    QCOMPARE(note, std::string("a class token first, then a 2x2 grid of patches (the last 3 tokens left out)"));
    QVERIFY(errorOf([&] { tokensAsGrid(tokens, &note, {2, 3, 3}); }).contains("as a grid of patches of 3x3"));
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

// A folder through smoothgrad with --overlay: one PNG per readable image, named by row and file, the
// size of the model's input; the maps equal the library's on the same preprocessed images.
void TestAttribution::cliWritesOverlaysOfAFolder()
{
    QTemporaryDir out;
    const QString npz = out.filePath("smooth.npz"), overlays = out.filePath("overlays");
    const QString model = QString::fromStdString(fixturePath("seed_cnn_scripted", "model.pt"));
    const QString dataset = QString::fromStdString(fixturePath("dataset", ""));
    const ProcessOutcome cli = runProgram(
        LAYERSCOPE_CLI, {"cam",          model,      "--input",    dataset,     "--preset",  "gray",   "--resize",
                         "101x101",      "--method", "smoothgrad", "--samples", "2",         "--seed", "9",
                         "--batch-size", "5",        "--out",      npz,         "--overlay", overlays, "--quiet"});
    QVERIFY2(cli.exitCode == 0, qPrintable(cli.err));
    QVERIFY2(cli.err.contains("skipped: ") && cli.err.contains("img005_truncated.jpg"), qPrintable(cli.err));
    const auto got = readNpzAsMap(npz.toStdString());
    const std::int64_t rows = got.at("cam").shape[0];
    QCOMPARE(shapeToString(got.at("cam").shape), "[" + std::to_string(rows) + ", 101, 101]");
    const QStringList pngs = QDir(overlays).entryList({"*.png"}, QDir::Files, QDir::Name);
    QCOMPARE(pngs.size(), int(rows));
    QVERIFY2(pngs.first() == "000000_img000.png", qPrintable(pngs.join(' ')));
    QVERIFY(!pngs.join(' ').contains("truncated"));
    const Tensor decoded = loadImage(QDir(overlays).filePath(pngs.first()).toStdString(), Preprocessing {});
    QCOMPARE(shapeToString(decoded.shape), std::string("[3, 101, 101]"));

    // The first image's map, from the library on the same preprocessed image.
    const Preprocessing gray = Preprocessing::gray(101, 101);
    const Model seed = Model::load(model.toStdString());
    AttributionRequest request;
    request.method = AttributionMethod::SmoothGrad;
    request.samples = 2;
    request.seed = 9;
    Tensor first = loadImage((QDir(dataset).filePath("img000.png")).toStdString(), gray);
    first.shape.insert(first.shape.begin(), 1);
    const Attribution expected = explain(seed, {first}, request);
    QVERIFY(relativeDifference(sampleOf(got.at("cam"), 0), expected.cam) <= 1e-5);
}

QTEST_MAIN(TestAttribution)
#include "tst_attribution.moc"
