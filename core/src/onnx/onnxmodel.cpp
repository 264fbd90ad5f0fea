// ONNX models run by OpenCV DNN: each selected module's output is requested by the OpenCV layer of
// the node that makes it, in one forward, with layer fusion off (fused layers report wrong values).

#include "layerscope/error.h"
#include "layerscope/runtime.h"
#include "model/modelimpl_p.h"
#include "onnx/onnxgraph_p.h"

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>

namespace layerscope {

namespace {

std::string layerOf(const detail::OnnxProducer& producer) { return "onnx_node!" + producer.node; }

// OpenCV's messages name its source file and function; a user needs the condition.
std::string conciseMessage(const cv::Exception& error)
{
    std::string text = error.err.empty() ? error.what() : error.err;
    const auto newline = text.find('\n');
    return newline == std::string::npos ? text : text.substr(0, newline);
}

std::string shapeHint(const std::vector<std::int64_t>& shape)
{
    std::string text = "[";
    for (std::size_t i = 0; i < shape.size(); ++i)
        text += (i ? ", " : "") + (shape[i] < 0 ? std::string("?") : std::to_string(shape[i]));
    return text + "]";
}

Tensor tensorOf(const cv::Mat& mat)
{
    cv::Mat values = mat;
    DType dtype = DType::Float32;
    switch (mat.depth()) {
    case CV_32F: break;
    case CV_64F: dtype = DType::Float64; break;
    case CV_32S: dtype = DType::Int32; break;
    case CV_8U: dtype = DType::UInt8; break;
    default: mat.convertTo(values, CV_32F);
    }
    std::vector<std::int64_t> shape;
    for (int i = 0; i < values.dims; ++i)
        shape.push_back(values.size[i]);
    Tensor tensor = Tensor::zeros(shape, dtype);
    if (!values.isContinuous())
        values = values.clone();
    std::memcpy(tensor.mutableData(), values.data, tensor.nbytes());
    return tensor;
}

cv::Mat matOf(const Tensor& input)
{
    const Tensor values = input.dtype == DType::Float32 ? input : convertFloating(input, DType::Float32);
    std::vector<int> sizes;
    for (const std::int64_t d : values.shape)
        sizes.push_back(int(d));
    if (sizes.empty())
        sizes.push_back(1);
    cv::Mat mat(int(sizes.size()), sizes.data(), CV_32F);
    std::memcpy(mat.data, values.data.get(), values.nbytes());
    return mat;
}

struct OnnxModel final : Model::Impl {
    detail::OnnxGraph graph;
    mutable std::mutex mutex; // one forward at a time: a cv::dnn::Net keeps its blobs between calls
    mutable cv::dnn::Net net;

    RunResult run(const Model& model, const std::vector<Tensor>& inputs, const CaptureRequest& request,
                  const JobControl* job) const override;
    Gradients gradients(const Model&, const std::vector<Tensor>&, const GradientRequest&,
                        const JobControl*) const override
    {
        throw Error(path + ": ONNX models run without gradients");
    }
    bool hasGradients() const override { return false; }
    bool forwardsRunSideBySide() const override { return false; } // the mutex above
    std::string formatName() const override { return "ONNX"; }

    void checkInputSizes(const std::vector<Tensor>& inputs) const;
};

// A model exported with fixed sizes says which it takes; OpenCV would fail deep inside, or worse not.
void OnnxModel::checkInputSizes(const std::vector<Tensor>& inputs) const
{
    for (std::size_t a = 0; a < inputs.size(); ++a) {
        const auto& declared = graph.inputs[a].shape;
        const auto& given = inputs[a].shape;
        bool fits = declared.size() == given.size();
        for (std::size_t d = 1; fits && d < given.size(); ++d) // the batch may differ
            fits = declared[d] < 0 || declared[d] == given[d];
        if (fits)
            continue;
        const std::string message = path + ": input '" + graph.inputs[a].name + "' is declared " + shapeHint(declared)
            + " but " + shapeToString(given) + " was given";
        if (declared.size() == 4 && given.size() == 4 && declared[1] > 0 && declared[2] > 0 && declared[3] > 0) {
            const std::string size = std::to_string(declared[2]) + "x" + std::to_string(declared[3]);
            throw InputSizeError(message + ": the model expects " + std::to_string(declared[1]) + "x" + size
                                     + " inputs; set Resize to " + size + " (--resize " + size + ")",
                                 int(declared[1]), int(declared[2]), int(declared[3]));
        }
        throw Error(message);
    }
}

RunResult OnnxModel::run(const Model& model, const std::vector<Tensor>& inputs, const CaptureRequest& request,
                         const JobControl* job) const
{
    if (!request.inputsOf.empty())
        throw Error(path + ": module inputs ('" + request.inputsOf.front() + ">in') cannot be captured from ONNX "
                    + "models; capture the module before it");
    std::vector<char> selected(modules.size(), 0);
    for (const auto& name : request.outputsOf) {
        const int index = detail::moduleIndexOrThrow(model, name);
        if (index == 0)
            throw Error("the root module is the model itself: its output is always captured as 'output'");
        if (!modules[std::size_t(index)].unavailable.empty())
            throw Error(path + ": '" + name + "' cannot be captured: " + modules[std::size_t(index)].unavailable);
        selected[std::size_t(index)] = 1;
    }
    model.checkInputCount(inputs.size());
    checkInputSizes(inputs);

    // Every wanted value by layer: OpenCV returns each requested layer's outputs in one forward.
    std::vector<cv::String> layers;
    std::map<std::string, std::size_t> layerSlot;
    auto slotOf = [&](const std::string& value) {
        const auto& producer = graph.producers.at(value);
        const auto [it, added] = layerSlot.emplace(layerOf(producer), layers.size());
        if (added)
            layers.push_back(it->first);
        return std::make_pair(it->second, producer.output);
    };
    struct Wanted {
        std::string key, module;
        int call;
        std::pair<std::size_t, int> slot;
    };
    std::vector<Wanted> wanted;
    std::vector<char> ran(modules.size(), 0);
    for (const auto& call : graph.calls) {
        if (!selected[std::size_t(call.module)])
            continue;
        ran[std::size_t(call.module)] = 1;
        const std::string& name = modules[std::size_t(call.module)].name;
        const std::string base = call.call == 0 ? name : name + ":" + std::to_string(call.call);
        for (std::size_t v = 0; v < call.values.size(); ++v)
            wanted.push_back({call.values.size() == 1 ? base : base + "[" + std::to_string(v) + "]", name, call.call,
                              slotOf(call.values[v])});
    }
    std::vector<std::pair<std::size_t, int>> outputSlots;
    for (const auto& output : graph.outputs)
        outputSlots.push_back(slotOf(output));

    std::vector<cv::Mat> blobs;
    for (const auto& input : inputs)
        blobs.push_back(matOf(input));
    if (job)
        job->report(0, 1, "forward");

    RunResult result;
    {
        std::lock_guard<std::mutex> lock(mutex);
        std::vector<std::vector<cv::Mat>> outputs;
        try {
            for (std::size_t a = 0; a < blobs.size(); ++a)
                net.setInput(blobs[a], graph.inputs[a].name);
            net.forward(outputs, layers);
        } catch (const cv::Exception& error) {
            std::string given;
            for (const auto& input : inputs)
                given += (given.empty() ? "" : ", ") + shapeToString(input.shape);
            throw Error("forward of " + path + " failed on input of shape " + given + ": " + conciseMessage(error));
        }
        auto take = [&](std::pair<std::size_t, int> slot) {
            const auto& mats = outputs.at(slot.first);
            if (slot.second >= int(mats.size()))
                throw Error(path + ": OpenCV's layer " + layers[slot.first] + " gave no output "
                            + std::to_string(slot.second));
            return tensorOf(mats[std::size_t(slot.second)]);
        };
        for (const auto& w : wanted)
            result.captures.push_back({w.key, w.module, w.call, false, take(w.slot)});
        for (std::size_t o = 0; o < outputSlots.size(); ++o)
            result.outputs.push_back({outputSlots.size() == 1 ? "output" : "output[" + std::to_string(o) + "]", "", 0,
                                      false, take(outputSlots[o])});
    }
    if (job)
        job->report(1, 1, "forward");
    for (std::size_t i = 1; i < modules.size(); ++i)
        if (selected[i] && !ran[i])
            result.notExecuted.push_back(modules[i].name);
    return result;
}

// The file, which Model::load has checked exists and is no folder (checkModelFile).
std::string readWhole(const std::string& path)
{
    namespace fs = std::filesystem;
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    if (ec)
        throw Error(path + ": cannot be read (" + ec.message() + ")");
    if (size > std::uintmax_t(std::numeric_limits<int>::max()))
        throw Error(path + ": larger than the 2 GiB a self-contained ONNX file can be");
    std::ifstream in(path, std::ios::binary);
    std::string bytes(std::size_t(size), '\0');
    if (!in.read(bytes.data(), std::streamsize(size)))
        throw Error(path + ": cannot be read (" + std::strerror(errno) + ")");
    return bytes;
}

} // namespace

namespace detail {

std::unique_ptr<Model::Impl> loadOnnx(const std::string& path, const LoadOptions&)
{
    // An ONNX graph holds no code that reaches the file system: only external tensor data would,
    // and readOnnxGraph refuses it. So there is nothing to trust here.
    auto impl = std::make_unique<OnnxModel>();
    impl->path = path;
    {
        const std::string bytes = readWhole(path);
        impl->graph = readOnnxGraph(bytes.data(), bytes.size(), path);
    }
    const OnnxGraph& graph = impl->graph;
    try {
        impl->net = cv::dnn::readNetFromONNX(graph.serialized.data(), graph.serialized.size());
    } catch (const cv::Exception& error) {
        throw Error(path + ": OpenCV DNN cannot import it (" + conciseMessage(error) + ")");
    }
    impl->net.enableFusion(false);
    impl->net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    impl->net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    // The runtime keeps OpenCV to one thread for image decoding; a forward needs them all.
    cv::setNumThreads(computeThreads());

    impl->modules = graph.modules;
    for (std::size_t i = 0; i < impl->modules.size(); ++i) {
        impl->moduleNames.push_back(impl->modules[i].name);
        impl->moduleIndex.emplace(impl->modules[i].name, int(i));
    }
    // A node OpenCV folded into constants or merged away has no layer whose output could be asked for.
    for (const auto& call : graph.calls)
        for (const auto& value : call.values)
            if (impl->net.getLayerId(layerOf(graph.producers.at(value))) < 0
                && impl->modules[std::size_t(call.module)].unavailable.empty())
                impl->modules[std::size_t(call.module)].unavailable
                    = "OpenCV DNN computes it while importing the model (from constants), so it has no layer to "
                      "capture";
    for (const auto& output : graph.outputs)
        if (!graph.producers.count(output) || impl->net.getLayerId(layerOf(graph.producers.at(output))) < 0)
            throw Error(path + ": the graph output '" + output + "' is not computed by any layer OpenCV DNN runs");
    for (const auto& input : graph.inputs)
        impl->arguments.push_back({input.name, "Tensor" + shapeHint(input.shape), false, input.shape});
    impl->returnType
        = graph.outputs.size() == 1 ? "Tensor" : "Tuple[" + std::to_string(graph.outputs.size()) + " Tensors]";
    impl->parameterDType = graph.parameterDType;
    impl->imageChannels = graph.imageChannels;
    for (const auto& rewrite : graph.rewrites)
        impl->notes.push_back(path + ": rewritten in memory for OpenCV DNN: " + rewrite);
    return impl;
}

} // namespace detail
} // namespace layerscope
