// explain(): Model::gradients, then the method's formula on what came back.

#include "inputmaps_p.h"

#include "layerscope/attribution.h"
#include "layerscope/error.h"

#include <algorithm>

namespace layerscope {

namespace {

// EigenCAM needs no gradient: for a runtime without autograd (ONNX through OpenCV) one forward gives
// the target's output and the classes. The gradient slot holds the activation, which EigenCAM ignores.
Gradients activationsOnly(const Model& model, const std::vector<Tensor>& inputs, const GradientRequest& wanted,
                          const JobControl* job)
{
    CaptureRequest capture;
    addCaptureKey(wanted.target, capture);
    const RunResult run = model.run(inputs, capture, job);
    Gradients result;
    for (const auto& c : run.captures)
        if (c.key == wanted.target)
            result.activation = c.tensor.dtype == DType::Float32 ? c.tensor : convertFloating(c.tensor, DType::Float32);
    if (!result.activation.data)
        throw Error("'" + wanted.target + "' did not return a tensor in this forward");
    if (run.outputs.size() != 1 || run.outputs[0].tensor.shape.size() != 2
        || run.outputs[0].tensor.dtype != DType::Float32)
        throw Error(model.path() + ": attribution needs a model whose output is one [N, classes] tensor of scores");
    result.output = run.outputs[0].tensor;
    const std::int64_t n = result.output.shape[0], classCount = result.output.shape[1];
    if (!wanted.classes.empty() && std::int64_t(wanted.classes.size()) != n)
        throw Error("one class per sample is needed: " + std::to_string(wanted.classes.size()) + " for "
                    + std::to_string(n) + " samples");
    const float* logits = result.output.values<float>();
    for (std::int64_t i = 0; i < n; ++i) {
        const float* row = logits + i * classCount;
        std::int64_t chosen = wanted.classes.empty() ? -1 : wanted.classes[std::size_t(i)];
        if (chosen >= classCount)
            throw Error("class " + std::to_string(chosen) + " is out of range: the model scores "
                        + std::to_string(classCount) + " classes (0 to " + std::to_string(classCount - 1) + ")");
        if (chosen < 0)
            chosen = std::max_element(row, row + classCount) - row;
        result.classes.push_back(chosen);
        result.scores.push_back(row[chosen]);
    }
    result.gradient = result.activation;
    return result;
}

} // namespace

Attribution explain(const Model& model, const std::vector<Tensor>& inputs, const AttributionRequest& request,
                    const JobControl* job)
{
    if (isInputAttribution(request.method))
        return detail::attributeInputs(model, inputs, request, job);
    if (request.layer.empty())
        throw Error(attributionMethodName(request.method) + " needs a target module (--layer)");
    GradientRequest wanted;
    wanted.target = request.layer;
    wanted.classes = request.classes;
    const Gradients gradients = request.method == AttributionMethod::EigenCam && !model.hasGradients()
        ? activationsOnly(model, inputs, wanted, job)
        : model.gradients(inputs, wanted, job);

    Attribution result;
    result.classes = gradients.classes;
    result.scores = gradients.scores;
    Tensor activation = gradients.activation, gradient = gradients.gradient;
    if (activation.shape.size() == 3) { // vision-transformer tokens
        activation = tokensAsGrid(activation, &result.note, request.tokens);
        gradient = tokensAsGrid(gradient, nullptr, request.tokens);
        result.note = "'" + request.layer + "' is [N, T, D]: read as " + result.note;
    } else if (activation.shape.size() != 4) {
        throw Error(
            "'" + request.layer + "' has output " + shapeToString(activation.shape)
            + ": a class activation map needs [N, C, H, W] (or [N, T, D] tokens); choose a convolutional module");
    }
    if (gradients.tapped)
        result.note += std::string(result.note.empty() ? "" : "; ") + "'" + request.layer
            + "' is changed in place after it returns: its output was kept apart with a clone";
    result.cam = classActivationMap(request.method, activation, gradient);
    return result;
}

} // namespace layerscope
