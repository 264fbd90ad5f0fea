#pragma once
// What a loaded TorchScript Model holds, for the LibTorch sources that run it (model.cpp, gradients.cpp).

#include "layerscope/model.h"
#include "libtorch/instrumentation_p.h"
#include "model/modelimpl_p.h"

#include <torch/script.h>

#include <exception>
#include <string>
#include <vector>

namespace layerscope {

// A TorchScript model: the module handles LibTorch runs, and what the instrumentation needs.
struct TorchScriptModel final : Model::Impl {
    mutable torch::jit::Module root; // a handle: forward() is non-const in LibTorch's API only
    bool instrumented = false;
    std::vector<std::int64_t> linearInFeatures; // per module: a Linear's in_features, else 0

    RunResult run(const Model& model, const std::vector<Tensor>& inputs, const CaptureRequest& request,
                  const JobControl* job) const override;
    Gradients gradients(const Model& model, const std::vector<Tensor>& inputs, const GradientRequest& request,
                        const JobControl* job) const override;
    bool hasGradients() const override { return true; }
    bool forwardsRunSideBySide() const override { return true; } // each records into its own RunRecorder
    std::string formatName() const override { return "TorchScript"; }
};

namespace detail {

// The model's forward on `arguments` (made from `inputs`) with `recorder` attached, detached after.
// A failure is turned into what a user reads: Cancelled when the job's token stopped it; otherwise
// the module that failed, its input shapes and LibTorch's last line (InputSizeError with the sizes a
// fixed-size image model takes).
c10::IValue recordedForward(const TorchScriptModel& impl, RunRecorder& recorder, std::vector<c10::IValue> arguments,
                            const std::vector<Tensor>& inputs);

} // namespace detail
} // namespace layerscope
