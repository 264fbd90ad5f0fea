#pragma once
// What every loaded Model holds, whatever runs it: the runtime (LibTorch for TorchScript, OpenCV DNN
// for ONNX) subclasses Model::Impl in its own sources, so public headers and the rest of core see
// neither runtime.

#include "layerscope/model.h"

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace layerscope {

struct Model::Impl {
    virtual ~Impl() = default;

    std::string path;
    std::vector<ModuleInfo> modules;
    std::vector<std::string> moduleNames; // modules[i].name, for the recorders and suggestions
    std::unordered_map<std::string, int> moduleIndex;
    std::vector<ArgumentInfo> arguments;
    std::string returnType;
    DType parameterDType = DType::Float32;
    int imageChannels = 0;
    std::vector<std::string> notes;

    // Adds `info` to the tree under its parent by qualified name (the root first), keeping the
    // indexes above in step.
    int addModule(ModuleInfo info);

    // Model::run and Model::gradients after the checks every runtime shares (input count).
    virtual RunResult run(const Model& model, const std::vector<Tensor>& inputs, const CaptureRequest& request,
                          const JobControl* job) const = 0;
    virtual Gradients gradients(const Model& model, const std::vector<Tensor>& inputs, const GradientRequest& request,
                                const JobControl* job) const = 0;
    virtual bool hasGradients() const = 0;
    virtual bool forwardsRunSideBySide() const = 0;
    virtual std::string formatName() const = 0; // "TorchScript", "ONNX"
};

namespace detail {

// Throws layerscope::Error for a module name the model does not have, with "did you mean" names.
int moduleIndexOrThrow(const Model& model, const std::string& name);

// The loaders of each format (libtorch/model.cpp, onnx/onnxmodel.cpp), called by Model::load once
// checkModelFile has passed. Throw layerscope::Error.
std::unique_ptr<Model::Impl> loadTorchScript(const std::string& path, const LoadOptions& options);
std::unique_ptr<Model::Impl> loadOnnx(const std::string& path, const LoadOptions& options);

} // namespace detail
} // namespace layerscope
