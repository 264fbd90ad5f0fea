// Captures against PyTorch's own register_forward_hook, on the fixture models.

#include "layerscope/error.h"
#include "layerscope/model.h"
#include "testsupport.h"

#include <QJsonArray>
#include <QtTest>

#include <set>
#include <thread>

using namespace layerscope;
using namespace layerscope::test;

namespace {

std::vector<std::string> allModuleNames(const Model& model)
{
    std::vector<std::string> names;
    for (const auto& m : model.modules()) {
        if (!m.name.empty())
            names.push_back(m.name);
    }
    return names;
}

const Capture* findCapture(const std::vector<Capture>& captures, const std::string& key)
{
    for (const auto& c : captures) {
        if (c.key == key)
            return &c;
    }
    return nullptr;
}

std::string messageOf(const std::function<void()>& action)
{
    try {
        action();
    } catch (const Error& error) {
        return error.what();
    }
    return {};
}

} // namespace

class TestCapture : public QObject {
    Q_OBJECT

private slots:
    void everyModuleOutputMatchesForwardHooks_data();
    void everyModuleOutputMatchesForwardHooks();
    void everyModuleInputMatchesPreHooks_data() { everyModuleOutputMatchesForwardHooks_data(); }
    void everyModuleInputMatchesPreHooks();
    void bfloat16ModelCapturesEqualForwardHooks();
    void modelOutputIsUnchangedByInstrumentation();
    void selectionChangesWithoutReload();
    void repeatedCallsAreNumbered();
    void tupleListAndDictOutputsAreSplit();
    void inplaceReluDoesNotAlterCapturedConvOutput();
    void unknownModuleSuggestsClosestNames();
    void wrongNumberOfInputsIsReported();
    void shapeMismatchNamesModuleAndShapes();
    void concurrentRunsKeepTheirOwnCaptures();
    void cancelledBeforeStartRunsNothing();
    void cancelDuringForwardStopsAtTheNextModule();
};

void TestCapture::everyModuleOutputMatchesForwardHooks_data()
{
    QTest::addColumn<QString>("caseName");
    for (const auto& name : fixtureCases())
        QTest::newRow(qPrintable(name)) << name;
}

void TestCapture::everyModuleOutputMatchesForwardHooks()
{
    QFETCH(QString, caseName);
    const Model model = Model::load(fixturePath(caseName, "model.pt"));
    CaptureRequest request;
    request.outputsOf = allModuleNames(model);
    const RunResult result = model.run(fixtureInputs(caseName), request);

    const auto reference = readNpzAsMap(fixturePath(caseName, "reference.npz"));
    const QJsonObject expected = expectedJson(caseName);

    // Same captures, in the same order as the hooks fired.
    QStringList order, hookOrder;
    for (const auto& c : result.captures) {
        const QString key = QString::fromStdString(c.key);
        const QString base = key.left(key.indexOf('[') < 0 ? key.size() : key.indexOf('['));
        if (order.isEmpty() || order.last() != base)
            order << base;
    }
    for (const auto& key : expected["order"].toArray())
        hookOrder << key.toString();
    // Forked branches (torch.jit.fork) run concurrently on the inter-op pool: their order is free.
    if (caseName.startsWith("forked")) {
        order.sort();
        hookOrder.sort();
    }
    QCOMPARE(order, hookOrder);
    QVERIFY(result.incomplete.empty());

    std::set<std::string> captured;
    for (const auto* list : {&result.captures, &result.outputs}) {
        for (const auto& c : *list) {
            captured.insert(c.key);
            auto it = reference.find(c.key);
            QVERIFY2(it != reference.end(), ("captured but not in the Python reference: " + c.key).c_str());
            QCOMPARE(dtypeName(c.tensor.dtype), dtypeName(it->second.dtype));
            QCOMPARE(shapeToString(c.tensor.shape), shapeToString(it->second.shape));
            const double difference = maxAbsDifference(c.tensor, it->second);
            QVERIFY2(difference <= 1e-5, (c.key + ": max abs difference " + std::to_string(difference)).c_str());
        }
    }
    for (const auto& [key, tensor] : reference)
        QVERIFY2(captured.count(key), ("in the Python reference but not captured: " + key).c_str());

    QStringList notExecuted, expectedNotExecuted;
    for (const auto& name : result.notExecuted)
        notExecuted << QString::fromStdString(name);
    for (const auto& name : expected["not_executed"].toArray())
        expectedNotExecuted << name.toString();
    QCOMPARE(notExecuted, expectedNotExecuted);

    QMap<QString, QString> skipped, expectedSkipped;
    for (const auto& s : result.skipped)
        skipped.insert(QString::fromStdString(s.key), QString::fromStdString(s.typeName));
    const QJsonObject expectedSkippedJson = expected["skipped"].toObject();
    for (auto it = expectedSkippedJson.begin(); it != expectedSkippedJson.end(); ++it)
        expectedSkipped.insert(it.key(), it.value().toString());
    QCOMPARE(skipped, expectedSkipped);
}

// Weights in bfloat16, as checkpoints often come, and a float32 array as input: LayerScope rounds the
// input to bfloat16 as torch's .bfloat16() does, and every capture is the model's own bfloat16 tensor.
void TestCapture::bfloat16ModelCapturesEqualForwardHooks()
{
    const Model model = Model::load(fixturePath("seed_cnn_bfloat16", "model.pt"));
    QCOMPARE(model.parameterDType(), DType::BFloat16);
    const std::string inputPath = fixturePath("seed_cnn_bfloat16", "input0.npy");
    const Tensor input = prepareArrayInput(model, readNpy(inputPath), inputPath);
    QCOMPARE(input.dtype, DType::BFloat16);
    const auto referenceInputs = readNpzAsMap(fixturePath("seed_cnn_bfloat16", "reference_inputs.npz"));
    QCOMPARE(maxAbsDifference(convertFloating(input, DType::Float32), referenceInputs.at("cnn.0>in")), 0.0);

    CaptureRequest request;
    request.outputsOf = allModuleNames(model);
    const RunResult result = model.run({input}, request);
    const auto reference = readNpzAsMap(fixturePath("seed_cnn_bfloat16", "reference.npz"));
    std::size_t compared = 0;
    for (const auto* list : {&result.captures, &result.outputs}) {
        for (const auto& c : *list) {
            const auto it = reference.find(c.key);
            QVERIFY2(it != reference.end(), ("captured but not in the Python reference: " + c.key).c_str());
            QCOMPARE(dtypeName(c.tensor.dtype), std::string("bfloat16"));
            // One bfloat16 step (2^-8 of the largest value) allows another summation order on other machines.
            const double difference = relativeDifference(convertFloating(c.tensor, DType::Float32), it->second);
            QVERIFY2(difference <= 1.0 / 256, (c.key + ": relative difference " + std::to_string(difference)).c_str());
            ++compared;
        }
    }
    QCOMPARE(compared, reference.size());
}

void TestCapture::everyModuleInputMatchesPreHooks()
{
    QFETCH(QString, caseName);
    const Model model = Model::load(fixturePath(caseName, "model.pt"));
    CaptureRequest request;
    request.inputsOf = allModuleNames(model);
    const RunResult result = model.run(fixtureInputs(caseName), request);
    const auto reference = readNpzAsMap(fixturePath(caseName, "reference_inputs.npz"));
    QVERIFY(!reference.empty());
    for (const auto& [key, tensor] : reference) {
        const Capture* capture = findCapture(result.captures, key);
        QVERIFY2(capture, ("module input not captured: " + key).c_str());
        QVERIFY(capture->isInput);
        const double difference = maxAbsDifference(capture->tensor, tensor);
        QVERIFY2(difference <= 1e-5, (key + ": max abs difference " + std::to_string(difference)).c_str());
    }
}

void TestCapture::modelOutputIsUnchangedByInstrumentation()
{
    for (const QString caseName : {"resnet18_scripted", "nested_traced", "tuple_scripted"}) {
        LoadOptions plain;
        plain.instrument = false;
        const Model uninstrumented = Model::load(fixturePath(caseName, "model.pt"), plain);
        const Model instrumented = Model::load(fixturePath(caseName, "model.pt"));
        const auto inputs = fixtureInputs(caseName);
        CaptureRequest everything;
        everything.outputsOf = allModuleNames(instrumented);
        const RunResult expected = uninstrumented.run(inputs);
        const RunResult captured = instrumented.run(inputs, everything);
        QCOMPARE(captured.outputs.size(), expected.outputs.size());
        for (std::size_t i = 0; i < expected.outputs.size(); ++i) {
            QCOMPARE(captured.outputs[i].key, expected.outputs[i].key);
            QCOMPARE(maxAbsDifference(captured.outputs[i].tensor, expected.outputs[i].tensor), 0.0);
        }
    }
}

void TestCapture::selectionChangesWithoutReload()
{
    const Model model = Model::load(fixturePath("seed_cnn_scripted", "model.pt"));
    const auto inputs = fixtureInputs("seed_cnn_scripted");

    const RunResult none = model.run(inputs);
    QVERIFY(none.captures.empty());
    QCOMPARE(none.outputs.size(), std::size_t(1));
    QCOMPARE(none.outputs[0].key, std::string("output"));

    const RunResult one = model.run(inputs, {{"cnn.2.0"}, {}});
    QCOMPARE(one.captures.size(), std::size_t(1));
    QCOMPARE(one.captures[0].key, std::string("cnn.2.0"));
    QCOMPARE(shapeToString(one.captures[0].tensor.shape), std::string("[2, 64, 18, 18]"));

    const RunResult two = model.run(inputs, {{"linear.0", "cnn.0"}, {"linear.0"}});
    QStringList keys;
    for (const auto& c : two.captures)
        keys << QString::fromStdString(c.key);
    QCOMPARE(keys, QStringList({"cnn.0", "linear.0>in", "linear.0"}));
}

void TestCapture::repeatedCallsAreNumbered()
{
    const Model model = Model::load(fixturePath("nested_scripted", "model.pt"));
    const RunResult result
        = model.run(fixtureInputs("nested_scripted"), {{"feature_model", "feature_model.cnn.3"}, {}});
    QStringList keys;
    for (const auto& c : result.captures)
        keys << QString::fromStdString(c.key) + "#" + QString::number(c.call);
    QCOMPARE(keys,
             QStringList({"feature_model.cnn.3#0", "feature_model#0", "feature_model.cnn.3:1#1", "feature_model:1#1"}));
    // Two different inputs: the two calls must differ.
    QVERIFY(maxAbsDifference(result.captures[1].tensor, result.captures[3].tensor) > 1e-3);
}

void TestCapture::tupleListAndDictOutputsAreSplit()
{
    const Model model = Model::load(fixturePath("tuple_scripted", "model.pt"));
    const RunResult result
        = model.run(fixtureInputs("tuple_scripted"), {{"stats", "counted", "halves", "lstm", "rare"}, {}});
    QStringList keys;
    for (const auto& c : result.captures)
        keys << QString::fromStdString(c.key);
    QCOMPARE(keys,
             QStringList({"stats[0]", "stats[1]", "counted[0]", "halves[low]", "halves[high]", "lstm[0]", "lstm[1][0]",
                          "lstm[1][1]"}));
    QCOMPARE(result.skipped.size(), std::size_t(1));
    QCOMPARE(result.skipped[0].key, std::string("counted[1]"));
    QCOMPARE(result.skipped[0].typeName, std::string("int"));
    QCOMPARE(result.notExecuted, std::vector<std::string>({"rare"}));
    QCOMPARE(result.outputs.size(), std::size_t(2));
    QCOMPARE(result.outputs[1].key, std::string("output[1]"));
}

void TestCapture::inplaceReluDoesNotAlterCapturedConvOutput()
{
    for (const QString caseName : {"inplace_scripted", "inplace_traced"}) {
        const Model model = Model::load(fixturePath(caseName, "model.pt"));
        const RunResult result = model.run(fixtureInputs(caseName), {{"features.0", "features.1"}, {}});
        QCOMPARE(result.captures.size(), std::size_t(2));
        const auto conv = toDoubles(result.captures[0].tensor);
        const auto relu = toDoubles(result.captures[1].tensor);
        QVERIFY(*std::min_element(conv.begin(), conv.end()) < 0); // a later ReLU_ would have zeroed these
        QCOMPARE(*std::min_element(relu.begin(), relu.end()), 0.0);
    }
}

void TestCapture::unknownModuleSuggestsClosestNames()
{
    const Model model = Model::load(fixturePath("resnet18_scripted", "model.pt"));
    const std::string message = messageOf([&] {
        model.run(fixtureInputs("resnet18_scripted"), {{"layer1.0.conv"}, {}});
    });
    QVERIFY2(message.find("no module named 'layer1.0.conv'") != std::string::npos, message.c_str());
    QVERIFY2(message.find("did you mean 'layer1.0.conv1'") != std::string::npos, message.c_str());
}

void TestCapture::wrongNumberOfInputsIsReported()
{
    const Model model = Model::load(fixturePath("nested_scripted", "model.pt"));
    auto inputs = fixtureInputs("nested_scripted");
    inputs.pop_back();
    const std::string message = messageOf([&] { model.run(inputs); });
    QVERIFY2(message.find("takes 2 inputs, forward(x: Tensor, y: Tensor) -> Tensor, but 1 was given")
                 != std::string::npos,
             message.c_str());
}

void TestCapture::shapeMismatchNamesModuleAndShapes()
{
    const Model model = Model::load(fixturePath("seed_cnn_scripted", "model.pt"));
    // 3 channels into Conv2d(1, 16, 5): the first convolution fails.
    Tensor rgb = Tensor::zeros({1, 3, 101, 101}, DType::Float32);
    std::string message = messageOf([&] { model.run({rgb}); });
    QVERIFY2(message.find("module 'cnn.0.0' (Conv2d) on input of shape [1, 3, 101, 101]") != std::string::npos,
             message.c_str());
    QVERIFY2(message.find("channels") != std::string::npos, message.c_str());
    QVERIFY2(message.find("Traceback") == std::string::npos && message.find('\n') == std::string::npos,
             message.c_str());

    // A larger image passes the convolutions and fails at the first Linear.
    Tensor large = Tensor::zeros({1, 1, 128, 128}, DType::Float32);
    message = messageOf([&] { model.run({large}); });
    QVERIFY2(message.find("module 'linear.0' (Linear) on input of shape [1, 3200]") != std::string::npos,
             message.c_str());
    QVERIFY2(message.find("1152") != std::string::npos, message.c_str());

    // The model still works after a failure.
    QCOMPARE(model.run(fixtureInputs("seed_cnn_scripted"), {{"cnn.0"}, {}}).captures.size(), std::size_t(1));
}

void TestCapture::concurrentRunsKeepTheirOwnCaptures()
{
    const Model model = Model::load(fixturePath("seed_cnn_scripted", "model.pt"));
    const auto inputs = fixtureInputs("seed_cnn_scripted");
    RunResult first, second;
    std::thread a([&] {
        for (int i = 0; i < 5; ++i)
            first = model.run(inputs, {{"cnn.0"}, {}});
    });
    std::thread b([&] {
        for (int i = 0; i < 5; ++i)
            second = model.run(inputs, {{"linear.2", "cnn.3"}, {}});
    });
    a.join();
    b.join();
    QCOMPARE(first.captures.size(), std::size_t(1));
    QCOMPARE(first.captures[0].key, std::string("cnn.0"));
    QCOMPARE(second.captures.size(), std::size_t(2));
    QCOMPARE(second.captures[0].key, std::string("cnn.3"));
    QCOMPARE(second.captures[1].key, std::string("linear.2"));
    // Each thread's values are its own and equal Python's forward hooks: no capture crossed over.
    const auto reference = readNpzAsMap(fixturePath("seed_cnn_scripted", "reference.npz"));
    QVERIFY(maxAbsDifference(first.captures[0].tensor, reference.at("cnn.0")) <= 1e-5);
    QVERIFY(maxAbsDifference(second.captures[0].tensor, reference.at("cnn.3")) <= 1e-5);
    QVERIFY(maxAbsDifference(second.captures[1].tensor, reference.at("linear.2")) <= 1e-5);
}

void TestCapture::cancelledBeforeStartRunsNothing()
{
    const Model model = Model::load(fixturePath("resnet18_scripted", "model.pt"));
    JobControl job;
    int started = 0;
    job.progress = [&](const JobProgress&) { ++started; };
    job.cancel.cancel();
    bool cancelled = false;
    try {
        model.run(fixtureInputs("resnet18_scripted"), {{"layer4"}, {}}, &job);
    } catch (const Cancelled&) {
        cancelled = true;
    }
    QVERIFY(cancelled);
    QCOMPARE(started, 0);
}

// The progress callback cancels when layer2 starts, as Esc would: the forward stops before the
// next module, layer3 and layer4 never run, and the model still works afterwards.
void TestCapture::cancelDuringForwardStopsAtTheNextModule()
{
    const Model model = Model::load(fixturePath("resnet18_scripted", "model.pt"));
    const auto inputs = fixtureInputs("resnet18_scripted");
    JobControl job;
    QStringList seen;
    job.progress = [&](const JobProgress& p) {
        seen << QString::fromStdString(p.step);
        QCOMPARE(p.total, std::int64_t(model.modules().size()));
        if (p.step == "forward: layer2")
            job.cancel.cancel();
    };
    bool cancelled = false;
    try {
        model.run(inputs, {{"layer4"}, {}}, &job);
    } catch (const Cancelled&) {
        cancelled = true;
    }
    QVERIFY(cancelled);
    QCOMPARE(seen.last(), QString("forward: layer2"));
    QVERIFY(seen.contains("forward: layer1.1.conv2"));
    QVERIFY(!seen.contains("forward: layer3"));

    const RunResult again = model.run(inputs, {{"layer4"}, {}});
    QCOMPARE(again.captures.size(), std::size_t(1));
}

QTEST_APPLESS_MAIN(TestCapture)
#include "tst_capture.moc"
