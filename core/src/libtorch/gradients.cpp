// Gradients through the compiled model: the instrumentation's ops return nothing (or, for the target,
// a clone made by a catch-all kernel), so autograd runs through the TorchScript graph as it is.

#include "layerscope/error.h"
#include "layerscope/model.h"
#include "libtorch/instrumentation_p.h"
#include "libtorch/model_p.h"
#include "libtorch/torchbridge_p.h"

#include <torch/csrc/autograd/autograd.h>

namespace layerscope {

namespace {

// "name" or "name:k" (the k-th call) to a module index and call.
std::pair<int, int> targetOf(const Model& model, const std::string& key)
{
    std::string name = key;
    int call = 0;
    const auto colon = key.rfind(':');
    if (colon != std::string::npos && colon + 1 < key.size()
        && key.find_first_not_of("0123456789", colon + 1) == std::string::npos) {
        name = key.substr(0, colon);
        call = std::stoi(key.substr(colon + 1));
    }
    const int module = detail::moduleIndexOrThrow(model, name);
    if (module == 0)
        throw Error("the target must be a module inside the model, not the model itself");
    return {module, call};
}

Tensor copyOf(const at::Tensor& tensor) { return detail::fromAten(tensor.detach().to(at::kFloat).contiguous()); }

} // namespace

Gradients TorchScriptModel::gradients(const Model& model, const std::vector<Tensor>& inputs,
                                      const GradientRequest& request, const JobControl* job) const
{
    std::pair<int, int> target {-1, 0};
    if (!request.target.empty()) {
        if (!instrumented)
            throw Error(path + ": loaded without instrumentation, modules cannot be a target");
        target = targetOf(model, request.target);
    }

    c10::AutoGradMode gradients(true);
    std::vector<at::Tensor> arguments;
    std::vector<c10::IValue> values;
    for (const auto& input : inputs) {
        at::Tensor x = detail::toAten(input).clone(); // a copy: a model may change its input in place
        if (x.is_floating_point())
            x.requires_grad_(request.inputGradients);
        arguments.push_back(x);
        values.emplace_back(x);
    }
    const auto moduleCount = modules.size();
    detail::RunRecorder recorder(moduleNames, std::vector<char>(moduleCount, 0), std::vector<char>(moduleCount, 0),
                                 job);
    if (target.first > 0)
        recorder.keepLive(target.first, target.second);
    const c10::IValue output = detail::recordedForward(*this, recorder, std::move(values), inputs);

    if (!output.isTensor() || output.toTensor().dim() != 2 || !output.toTensor().is_floating_point())
        throw Error(path + ": attribution needs a model whose output is one [N, classes] tensor of scores; "
                    + "its forward returns "
                    + (output.isTensor() ? "a tensor of " + std::to_string(output.toTensor().dim()) + " dimensions"
                                         : output.type()->annotation_str()));
    const at::Tensor logits = output.toTensor();
    const std::int64_t n = logits.size(0), classCount = logits.size(1);
    if (!request.classes.empty() && std::int64_t(request.classes.size()) != n)
        throw Error("one class per sample is needed: " + std::to_string(request.classes.size()) + " for "
                    + std::to_string(n) + " samples");
    Gradients result;
    const at::Tensor top = logits.detach().argmax(1);
    for (std::int64_t i = 0; i < n; ++i) {
        const std::int64_t wanted = request.classes.empty() ? -1 : request.classes[std::size_t(i)];
        if (wanted >= classCount)
            throw Error("class " + std::to_string(wanted) + " is out of range: the model scores "
                        + std::to_string(classCount) + " classes (0 to " + std::to_string(classCount - 1) + ")");
        result.classes.push_back(wanted >= 0 ? wanted : top[i].item<std::int64_t>());
    }
    const at::Tensor classes = torch::tensor(result.classes, at::kLong);
    const at::Tensor chosen = logits.gather(1, classes.unsqueeze(1)).squeeze(1);
    for (std::int64_t i = 0; i < n; ++i)
        result.scores.push_back(chosen[i].item<float>());

    std::vector<at::Tensor> with; // what the gradient is taken with respect to
    if (target.first > 0) {
        const at::Tensor& live = recorder.live();
        const std::string& name = request.target;
        if (!live.defined())
            throw Error("'" + name + "' did not return a tensor in this forward (did it run? is its output a tuple?)");
        if (recorder.liveChangedInPlace()) // never a silently wrong map
            throw Error("'" + name
                        + "' is changed in place after it returns (an in-place op such as ReLU(inplace=True) "
                        + "follows it) and its output could not be kept apart; choose the module after it");
        if (!live.requires_grad())
            throw Error("the class score does not depend on '" + name + "' (no gradient flows to it)");
        with.push_back(live);
    }
    if (request.inputGradients)
        for (const auto& x : arguments)
            if (x.requires_grad())
                with.push_back(x);
    if (!with.empty()) {
        const auto grads = torch::autograd::grad({chosen.sum()}, with, {}, false, false, /*allow_unused=*/true);
        std::size_t next = 0;
        if (target.first > 0) {
            result.activation = copyOf(with[0]);
            result.gradient = grads[0].defined() ? copyOf(grads[0]) : copyOf(at::zeros_like(with[0]));
            result.tapped = recorder.liveKeptByTap();
            next = 1;
        }
        if (request.inputGradients)
            for (const auto& x : arguments) {
                if (!x.requires_grad()) {
                    result.inputGradients.emplace_back();
                    continue;
                }
                const at::Tensor& g = grads[next++];
                result.inputGradients.push_back(g.defined() ? copyOf(g) : copyOf(at::zeros_like(x)));
            }
    }
    result.output = copyOf(logits);
    return result;
}

} // namespace layerscope
