#include "layerscope/model.h"

#include "layerscope/error.h"
#include "libtorch/instrumentation_p.h"
#include "libtorch/model_p.h"
#include "libtorch/torchbridge_p.h"
#include "model/modelfile_p.h"
#include "model/namesuggest_p.h"

#include <torch/script.h>

#include <sstream>
#include <unordered_map>
#include <unordered_set>

namespace layerscope {

using detail::RunRecorder;

namespace {

// LibTorch messages carry C++ backtraces and TorchScript tracebacks; a user needs the last line.
std::string conciseMessage(const std::string& message)
{
    std::istringstream lines(message);
    std::string line, last;
    while (std::getline(lines, line)) {
        if (line.find_first_not_of(" \t") == std::string::npos)
            continue;
        if (line.rfind("Exception raised from ", 0) == 0 || line.rfind("frame #", 0) == 0)
            break; // the C++ backtrace follows
        last = line;
    }
    for (const char* prefix : {"RuntimeError: ", "Exception: ", "builtins.RuntimeError: "}) {
        if (last.rfind(prefix, 0) == 0)
            last.erase(0, std::string(prefix).size());
    }
    return last.empty() ? message.substr(0, message.find('\n')) : last;
}

std::string messageOf(const c10::Error& error) { return conciseMessage(error.what_without_backtrace()); }

std::int64_t countElements(const std::vector<at::Tensor>& tensors)
{
    std::int64_t n = 0;
    for (const auto& t : tensors)
        n += t.numel();
    return n;
}

// named_modules() order, shared instances once (as PyTorch's memo does).
void buildTree(TorchScriptModel& impl, std::vector<torch::jit::Module>& handles)
{
    std::unordered_set<const void*> seen;
    for (const auto& entry : impl.root.named_modules()) {
        if (!seen.insert(entry.value._ivalue().get()).second)
            continue;
        ModuleInfo info;
        info.name = entry.name;
        auto typeName = entry.value.type()->name();
        info.typeName = typeName ? typeName->name() : "Module";
        info.hasForward = false;
        for (const auto& method : entry.value.get_methods())
            info.hasForward = info.hasForward || detail::isForwardMethodName(method.name());

        std::vector<at::Tensor> own;
        for (const auto& p : entry.value.named_parameters(/*recurse=*/false))
            own.push_back(p.value);
        info.ownParameters = countElements(own);
        std::unordered_set<const void*> distinct;
        std::vector<at::Tensor> all;
        for (const auto& p : entry.value.parameters(/*recurse=*/true)) {
            if (distinct.insert(p.unsafeGetTensorImpl()).second)
                all.push_back(p);
        }
        info.totalParameters = countElements(all);
        std::int64_t inFeatures = 0;
        if (info.typeName == "Linear") {
            for (const auto& p : entry.value.named_parameters(/*recurse=*/false)) {
                if (p.name == "weight" && p.value.dim() == 2)
                    inFeatures = p.value.size(1);
            }
        }
        impl.linearInFeatures.push_back(inFeatures);

        impl.addModule(std::move(info));
        handles.push_back(entry.value);
    }
}

void readSignature(TorchScriptModel& impl)
{
    auto forward = impl.root.find_method("forward");
    if (!forward)
        throw Error(impl.path + ": the model has no forward method");
    const auto& schema = forward->function().getSchema();
    const auto& arguments = schema.arguments();
    for (std::size_t i = 1; i < arguments.size(); ++i) // 0 is self
        impl.arguments.push_back(
            {arguments[i].name(), arguments[i].type()->annotation_str(), arguments[i].default_value().has_value(), {}});
    if (!schema.returns().empty())
        impl.returnType = schema.returns()[0].type()->annotation_str();
}

void readParameterHints(TorchScriptModel& impl)
{
    bool dtypeKnown = false;
    for (const auto& p : impl.root.parameters()) {
        if (!dtypeKnown && p.is_floating_point())
            dtypeKnown = detail::fromScalarType(p.scalar_type(), &impl.parameterDType);
        if (impl.imageChannels == 0 && p.dim() == 4) // [out, in, kh, kw] of the first convolution
            impl.imageChannels = int(p.size(1));
    }
}

// What a forward on a [1, C, side, side] zero image tells about the sizes a model takes.
struct Probe {
    bool ran = false;           // the forward succeeded
    std::int64_t features = -1; // else: what the failing Linear received, -1 when it failed before it
};

Probe probeSquare(const TorchScriptModel& impl, int channels, std::int64_t side, int linear)
{
    const std::size_t n = impl.modules.size();
    RunRecorder recorder(impl.moduleNames, std::vector<char>(n, 0), std::vector<char>(n, 0));
    try {
        impl.root.forward({at::zeros({1, channels, side, side}, at::kFloat)});
        recorder.detach();
        return {true, -1};
    } catch (const std::exception&) {
        recorder.detach();
        if (recorder.failedModule() != linear)
            return {}; // too small for a kernel on the way, or a failure the size cannot fix
        const auto shapes = recorder.failedModuleInputShapes();
        if (shapes.empty() || shapes[0].size() != 2)
            return {};
        return {false, shapes[0][1]};
    }
}

// The square image sides a model runs with when a Linear after a flatten fixes them: the features
// it receives grow with the side, so the sides that give exactly `inFeatures` form one range,
// found by doubling then bisecting (a dozen forwards that stop at the Linear). {0, 0}: none found.
std::pair<std::int64_t, std::int64_t> runnableSides(const TorchScriptModel& impl, int channels, int linear,
                                                    std::int64_t inFeatures)
{
    auto atLeast = [&](std::int64_t side, std::int64_t features) {
        const Probe probe = probeSquare(impl, channels, side, linear);
        return probe.ran ? features <= inFeatures : probe.features >= features;
    };
    constexpr std::int64_t kLargest = 2048;
    std::int64_t high = 8;
    while (high < kLargest && !atLeast(high, inFeatures))
        high *= 2;
    auto firstSide = [&](std::int64_t low, std::int64_t high, std::int64_t features) { // smallest with atLeast
        while (low < high) {
            const std::int64_t mid = low + (high - low) / 2;
            if (atLeast(mid, features))
                high = mid;
            else
                low = mid + 1;
        }
        return low;
    };
    const std::int64_t first = firstSide(1, high, inFeatures);
    if (!probeSquare(impl, channels, first, linear).ran)
        return {0, 0};
    std::int64_t beyond = first + 1; // the first side that gives more features
    while (beyond < kLargest && probeSquare(impl, channels, beyond, linear).ran)
        beyond = std::min(kLargest, first + 2 * (beyond - first));
    std::int64_t low = first + 1, highSide = beyond;
    while (low < highSide) {
        const std::int64_t mid = low + (highSide - low) / 2;
        if (probeSquare(impl, channels, mid, linear).ran)
            low = mid + 1;
        else
            highSide = mid;
    }
    return {first, low - 1};
}

} // namespace

namespace detail {

std::unique_ptr<Model::Impl> loadTorchScript(const std::string& path, const LoadOptions& options)
{
    auto impl = std::make_unique<TorchScriptModel>();
    impl->path = path;
    try {
        impl->root = torch::jit::load(path, torch::kCPU);
    } catch (const c10::Error& error) {
        throw Error(path + ": cannot be loaded as TorchScript (" + messageOf(error) + ")");
    } catch (const std::exception& error) {
        throw Error(path + ": cannot be loaded as TorchScript (" + conciseMessage(error.what()) + ")");
    }
    // Viewing activations means inference: BatchNorm and Dropout as in model.eval() in Python.
    impl->root.eval();

    std::vector<torch::jit::Module> handles;
    try {
        buildTree(*impl, handles);
        readSignature(*impl);
        readParameterHints(*impl);
        if (options.instrument) {
            detail::instrumentModules(handles);
            impl->instrumented = true;
        }
    } catch (const c10::Error& error) {
        throw Error(path + ": cannot be prepared for capture (" + messageOf(error) + ")");
    }
    return impl;
}

namespace {

[[noreturn]] void throwForwardFailure(const TorchScriptModel& impl, const RunRecorder& recorder,
                                      const std::vector<Tensor>& inputs, const std::exception& error)
{
    if (recorder.stoppedByCancel())
        throw Cancelled();
    const auto* torchError = dynamic_cast<const c10::Error*>(&error);
    const std::string cause = torchError ? messageOf(*torchError) : conciseMessage(error.what());
    std::ostringstream message;
    const int failed = recorder.failedModule();
    if (failed > 0) {
        const auto& module = impl.modules[failed];
        message << "forward failed in module '" << module.name << "' (" << module.typeName << ")";
    } else {
        message << "forward of " << impl.path << " failed";
    }
    const auto shapes = failed > 0 ? recorder.failedModuleInputShapes() : [&] {
        std::vector<std::vector<std::int64_t>> given;
        for (const auto& input : inputs)
            given.push_back(input.shape);
        return given;
    }();
    for (std::size_t i = 0; i < shapes.size(); ++i)
        message << (i                        ? ", "
                        : shapes.size() == 1 ? " on input of shape "
                                             : " on inputs of shapes ")
                << shapeToString(shapes[i]);
    const std::string context = message.str(); // which module, which shapes
    message << ": " << cause;
    // A Linear after a flatten that got the wrong number of features from an image: the model
    // tells which image sizes it takes, and the user needs that, not LibTorch's matrix shapes.
    const int channels = impl.imageChannels;
    if (failed > 0 && impl.modules[failed].typeName == "Linear" && shapes.size() == 1 && shapes[0].size() == 2
        && inputs.size() == 1 && inputs[0].shape.size() == 4 && inputs[0].shape[1] == channels) {
        const std::int64_t inFeatures = impl.linearInFeatures[failed];
        const auto [low, high] = inFeatures > 0 && shapes[0][1] != inFeatures
            ? runnableSides(impl, channels, failed, inFeatures)
            : std::pair<std::int64_t, std::int64_t> {0, 0};
        if (low > 0) {
            const std::int64_t side = low + (high - low + 1) / 2;
            std::ostringstream advice;
            advice << context << ": the model expects " << channels << "x" << low << "x" << low << " inputs";
            if (high > low)
                advice << " (up to " << channels << "x" << high << "x" << high << ")";
            advice << "; set Resize to " << side << "x" << side << " (--resize " << side << "x" << side << "; it takes "
                   << inFeatures << " features, a " << inputs[0].shape[1] << "x" << inputs[0].shape[2] << "x"
                   << inputs[0].shape[3] << " input gives " << shapes[0][1] << ")";
            throw InputSizeError(advice.str(), channels, int(side), int(side));
        }
    }
    throw Error(message.str());
}

} // namespace

c10::IValue recordedForward(const TorchScriptModel& impl, RunRecorder& recorder, std::vector<c10::IValue> arguments,
                            const std::vector<Tensor>& inputs)
{
    try {
        c10::IValue output = impl.root.forward(std::move(arguments));
        recorder.detach();
        return output;
    } catch (const std::exception& error) {
        recorder.detach();
        throwForwardFailure(impl, recorder, inputs, error);
    }
}

} // namespace detail

RunResult TorchScriptModel::run(const Model& model, const std::vector<Tensor>& inputs, const CaptureRequest& request,
                                const JobControl* job) const
{
    const auto moduleCount = modules.size();
    std::vector<char> captureOutputs(moduleCount, 0), captureInputs(moduleCount, 0);
    auto select = [&](const std::vector<std::string>& names, std::vector<char>& flags) {
        for (const auto& name : names) {
            const int index = detail::moduleIndexOrThrow(model, name);
            if (index == 0)
                throw Error("the root module is the model itself: its output is always captured as 'output'");
            if (!instrumented)
                throw Error(path + ": loaded without instrumentation, modules cannot be captured");
            flags[index] = 1;
        }
    };
    select(request.outputsOf, captureOutputs);
    select(request.inputsOf, captureInputs);

    model.checkInputCount(inputs.size());

    c10::InferenceMode inferenceMode;
    std::vector<c10::IValue> arguments;
    arguments.reserve(inputs.size());
    for (const auto& input : inputs) // a copy: a model may change its input in place
        arguments.emplace_back(detail::toAten(input).clone());

    RunRecorder recorder(moduleNames, captureOutputs, captureInputs, job);
    const c10::IValue output = detail::recordedForward(*this, recorder, std::move(arguments), inputs);

    Capture proto;
    recorder.collect(output, "output", proto, recorder.result().outputs);
    RunResult result = std::move(recorder.result());
    std::vector<char> unfinished(moduleCount, 0);
    for (const int module : recorder.unfinishedModules())
        unfinished[module] = 1;
    for (std::size_t i = 1; i < moduleCount; ++i) {
        if (!(captureOutputs[i] || captureInputs[i]))
            continue;
        // A module still running in a forked task nobody waited for: its fate is unknown.
        if (unfinished[i])
            result.incomplete.push_back(moduleNames[i]);
        else if (recorder.callCount(static_cast<int>(i)) == 0)
            result.notExecuted.push_back(moduleNames[i]);
    }
    return result;
}

} // namespace layerscope
