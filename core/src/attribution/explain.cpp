// explain(): Model::gradients, then the method's formula on what came back.

#include "layerscope/attribution.h"
#include "layerscope/error.h"

#include <algorithm>
#include <cmath>

namespace layerscope {

namespace {

// Saliency: the largest |dS/dx| over an input's channels, [N, H, W] ([N, C, H, W] or [N, H, W] in).
Tensor saliencyOf(const Tensor& gradient)
{
    const auto& s = gradient.shape;
    if (s.size() != 4 && s.size() != 3)
        throw Error("saliency needs image inputs ([N, C, H, W]), not " + shapeToString(s));
    const std::int64_t n = s[0], channels = s.size() == 4 ? s[1] : 1;
    const std::int64_t h = s[s.size() - 2], w = s[s.size() - 1];
    const Tensor g = convertFloating(gradient, DType::Float32);
    Tensor map = Tensor::zeros({n, h, w}, DType::Float32);
    float* out = static_cast<float*>(map.mutableData());
    for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t c = 0; c < channels; ++c)
            for (std::int64_t p = 0; p < h * w; ++p) {
                float& cell = out[i * h * w + p];
                cell = std::max(cell, std::abs(g.values<float>()[(i * channels + c) * h * w + p]));
            }
    return map;
}

} // namespace

Attribution explain(const Model& model, const std::vector<Tensor>& inputs, const AttributionRequest& request,
                    const JobControl* job)
{
    const bool onInputs = isInputAttribution(request.method);
    if (!onInputs && request.layer.empty())
        throw Error(attributionMethodName(request.method) + " needs a target module (--layer)");
    GradientRequest wanted;
    wanted.target = onInputs ? std::string() : request.layer;
    wanted.classes = request.classes;
    wanted.inputGradients = onInputs;
    const Gradients gradients = model.gradients(inputs, wanted, job);

    Attribution result;
    result.classes = gradients.classes;
    result.scores = gradients.scores;
    if (onInputs) {
        for (const Tensor& g : gradients.inputGradients)
            result.inputMaps.push_back(g.shape.empty() ? Tensor() : saliencyOf(g));
        if (result.inputMaps.empty() || result.inputMaps.front().shape.empty())
            throw Error("saliency needs a floating-point first input");
        result.cam = result.inputMaps.front();
        return result;
    }
    Tensor activation = gradients.activation, gradient = gradients.gradient;
    if (activation.shape.size() == 3) { // vision-transformer tokens
        activation = tokensAsGrid(activation, &result.note);
        gradient = tokensAsGrid(gradient, nullptr);
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
