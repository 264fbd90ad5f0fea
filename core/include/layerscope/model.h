#pragma once

#include "layerscope/capture.h"
#include "layerscope/job.h"
#include "layerscope/moduletree.h"
#include "layerscope/tensor.h"

#include <memory>
#include <string>
#include <vector>

namespace layerscope {

struct LoadOptions {
    // Rewrite the module graphs so any module can be captured. Off only to measure the cost of it.
    bool instrument = true;
    // A model is code that runs with the user's rights while it loads (__setstate__) and runs. Unless
    // trusted, a model whose source calls an operator reaching outside it (torch.from_file,
    // torch.save ...) is refused with UntrustedModelError. Archive size checks apply regardless.
    bool trustModel = false;
};

// What attribution needs from one forward and one backward: the gradient of each sample's class
// score S (the logit of its class, before softmax) with respect to a module's output and/or the inputs.
struct GradientRequest {
    std::string target;                // capture key of the module output A ("layer4", "block:1"); "" for none
    std::vector<std::int64_t> classes; // one per sample; empty or -1: the sample's top class
    bool inputGradients = false;       // dS/dx for every floating-point input as well
};

struct Gradients {
    Tensor activation;                  // A as the forward made it, [N, ...] float32
    Tensor gradient;                    // dS/dA, A's shape
    std::vector<Tensor> inputGradients; // dS/dx per forward argument (empty Tensor: not floating)
    std::vector<std::int64_t> classes;  // the class each sample's score is of
    std::vector<float> scores;          // its logit
    Tensor output;                      // the model's output [N, classes]
    bool tapped = false;                // A was cloned where the forward went on, so later in-place ops left it whole
};

// A model opened on the CPU: TorchScript (run by LibTorch, with every module's forward instrumented
// once so that any set of modules can be captured by name at run time) or ONNX (run by OpenCV DNN,
// with the module tree rebuilt from the exporter's scope names and each module's output requested
// by layer). Callers do not need to know which.
class Model {
public:
    // Throws layerscope::Error with one line naming the file and the cause (UntrustedModelError for
    // a model that must be trusted first, see LoadOptions::trustModel). A zip archive is TorchScript;
    // a file named *.onnx, or one that starts as an ONNX ModelProto, is ONNX.
    static Model load(const std::string& path, const LoadOptions& options = {});

    Model(Model&&) noexcept;
    Model& operator=(Model&&) noexcept;
    ~Model();

    const std::string& path() const;
    const std::vector<ModuleInfo>& modules() const; // named_modules() order, root first
    int findModule(const std::string& name) const;  // index into modules(), -1 if unknown
    const std::vector<ArgumentInfo>& forwardArguments() const;
    int requiredArgumentCount() const;
    // Throws layerscope::Error naming the model, its signature and the count when `given` inputs do
    // not fit its forward: the one check of the number of inputs (run, extraction, the GUI).
    void checkInputCount(std::size_t given) const;
    std::string signature() const; // "forward(x: Tensor, y: Tensor) -> Tensor"

    // Module names closest to an unknown one, best first, for "did you mean" messages.
    std::vector<std::string> closestModuleNames(const std::string& name, std::size_t count = 3) const;

    // Throws layerscope::Error for unknown module names (with suggestions), the wrong number of inputs,
    // and failures inside the forward (naming the module that failed and the shapes involved).
    // Thread-safe: runs on different threads do not see each other's captures. With a job, each
    // module that starts is a safe point: the job's token is checked there (layerscope::Cancelled
    // is thrown if it was cancelled) and progress names the module ("forward", done = modules
    // started so far, total = modules in the tree).
    RunResult run(const std::vector<Tensor>& inputs, const CaptureRequest& request = {},
                  const JobControl* job = nullptr) const;

    // One forward with autograd on and torch::autograd::grad of the summed class scores (no hooks, no
    // .grad filled). The model's output must be [N, classes]. Throws layerscope::Error for an unknown
    // target, a target that did not run or does not lead to the output, or a class out of range.
    Gradients gradients(const std::vector<Tensor>& inputs, const GradientRequest& request,
                        const JobControl* job = nullptr) const;

    // "TorchScript" or "ONNX".
    std::string formatName() const;
    // False for runtimes without autograd (ONNX through OpenCV): gradients() then throws.
    bool hasGradients() const;
    // True when run() may be called from several threads at once and the forwards go side by side
    // (TorchScript); false when they take turns (ONNX through OpenCV keeps its blobs in the net).
    bool forwardsRunSideBySide() const;
    // What loading changed or found that a user may want to know, one line each (ONNX: the graph
    // rewrites made for OpenCV). Empty for most models.
    const std::vector<std::string>& notes() const;

    // Floating-point dtype of the model's parameters (Float32 when it has none).
    DType parameterDType() const;

    // Channels the first convolution expects (1 for grayscale, 3 for colour), 0 when the model has
    // no 4-D weight: a hint for choosing the image preprocessing.
    int imageChannelsHint() const;

    struct Impl; // opaque: LibTorch stays behind the firewall

private:
    explicit Model(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// A tensor read from `path` (an .npy) made ready as an input of `model`: floating values take the
// parameters' dtype; integer and bool values stay as they are for a model with an Embedding (token
// ids) and become the parameters' dtype for an image model when shaped as its images ([N, C, H, W]
// or [C, H, W] with the first convolution's C). Throws layerscope::Error naming the file and dtype
// when integers would meet an image model in another shape.
Tensor prepareArrayInput(const Model& model, const Tensor& tensor, const std::string& path);

} // namespace layerscope
