#pragma once
// Capture by graph instrumentation: LibTorch has no forward hooks, so after loading, every module
// type's forward graph gets calls to three side-effecting operators (see DESIGN.md):
//   layerscope::enter(int module)                         first thing in forward
//   layerscope::record_input(int module, int arg, Any v)  once per argument
//   layerscope::leave(int module, Any output)             just before return
// The module is identified by an int attribute set per instance (types are shared by instances),
// and the operators report to the RunRecorder of the calling thread, if any.

#include "layerscope/capture.h"

#include <ATen/core/ivalue.h>
#include <torch/script.h>

#include <string>
#include <vector>

namespace layerscope::detail {

// forward and its variants: TorchScript names overloads forward__0, forward__1 (nn.LSTM), and the
// tracer names the second call of a module forward1, the third forward2 ...
bool isForwardMethodName(const std::string& name);

// Rewrites the forward graphs of every module in `modules` (index i is the module's id in the tree;
// entries without a forward are skipped) and tags each instance with its id. Index 0, the root,
// is left alone: its output is the model's output.
void instrumentModules(const std::vector<torch::jit::Module>& modules);

// Everything one forward records. Lives on the caller's stack for the duration of Model::run.
class RunRecorder {
public:
    RunRecorder(const std::vector<std::string>& moduleNames, std::vector<char> captureOutputs,
                std::vector<char> captureInputs);
    ~RunRecorder(); // restores the thread's previous recorder

    void enter(std::int64_t module);
    void recordInput(std::int64_t module, std::int64_t argument, const c10::IValue& value);
    void leave(std::int64_t module, const c10::IValue& output);

    // Splits a value into tensors named key, key[0], key[name] ...; non-tensors go to `skipped`.
    void collect(const c10::IValue& value, const std::string& key, const Capture& proto,
                 std::vector<Capture>& into);

    int callCount(int module) const { return calls_[module]; }
    // The innermost module that was entered and has not returned: where a failed forward failed.
    int failedModule() const { return frames_.empty() ? -1 : frames_.back().module; }
    std::vector<std::vector<std::int64_t>> failedModuleInputShapes() const;

    RunResult& result() { return result_; }

private:
    struct Frame {
        int module;
        int call;
        std::size_t firstInput;
    };
    std::string callKey(int module, int call) const;

    const std::vector<std::string>& names_;
    std::vector<char> captureOutputs_, captureInputs_;
    std::vector<int> calls_;
    std::vector<Frame> frames_;
    std::vector<c10::IValue> frameInputs_;
    RunResult result_;
    RunRecorder* previous_;
};

} // namespace layerscope::detail
