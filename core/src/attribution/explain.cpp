// explain(): Model::gradients, then the method's formula on what came back.

#include "inputmaps_p.h"

#include "layerscope/attribution.h"
#include "layerscope/error.h"

namespace layerscope {

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
    const Gradients gradients = model.gradients(inputs, wanted, job);

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
