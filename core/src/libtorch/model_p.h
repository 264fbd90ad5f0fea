#pragma once
// What a loaded Model holds, for the LibTorch sources that run it (model.cpp, gradients.cpp).

#include "layerscope/model.h"
#include "libtorch/instrumentation_p.h"

#include <torch/script.h>

#include <exception>
#include <string>
#include <unordered_map>
#include <vector>

namespace layerscope {

struct Model::Impl {
    std::string path;
    torch::jit::Module root;
    std::vector<ModuleInfo> modules;
    std::vector<std::string> moduleNames;
    std::unordered_map<std::string, int> moduleIndex;
    std::vector<ArgumentInfo> arguments;
    std::string returnType;
    bool instrumented = false;
    DType parameterDType = DType::Float32;
    int imageChannels = 0;
    std::vector<std::int64_t> linearInFeatures; // per module: a Linear's in_features, else 0
};

namespace detail {

// Throws layerscope::Error for a module name the model does not have, with "did you mean" names.
int moduleIndexOrThrow(const Model& model, const std::string& name);

// The model's forward on `arguments` (made from `inputs`) with `recorder` attached, detached after.
// A failure is turned into what a user reads: Cancelled when the job's token stopped it; otherwise
// the module that failed, its input shapes and LibTorch's last line (InputSizeError with the sizes a
// fixed-size image model takes).
c10::IValue recordedForward(Model::Impl& impl, RunRecorder& recorder, std::vector<c10::IValue> arguments,
                            const std::vector<Tensor>& inputs);

} // namespace detail
} // namespace layerscope
