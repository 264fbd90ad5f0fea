#pragma once
// Capture by graph instrumentation: LibTorch has no forward hooks, so after loading, every module
// type's forward graph gets calls to three side-effecting operators (see DESIGN.md):
//   layerscope::enter(int module)                         first thing in forward
//   layerscope::record_input(int module, int arg, Any v)  once per argument
//   layerscope::leave(int module, Any output)             just before return
//   layerscope::tap(int module, Tensor output) -> Tensor   returns it (forwards returning a Tensor)
// The module is identified by an int attribute set per instance (types are shared by instances),
// and the operators report to the RunRecorder of the running forward, if any. The recorder travels
// as LibTorch thread-local debug info, which at::launch carries to the tasks that torch.jit.fork
// starts on the inter-op pool: forked branches are recorded like the rest.

#include "layerscope/capture.h"
#include "layerscope/job.h"

#include <ATen/core/ivalue.h>
#include <c10/util/ThreadLocalDebugInfo.h>
#include <torch/script.h>

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace layerscope::detail {

// forward and its variants: TorchScript names overloads forward__0, forward__1 (nn.LSTM), and the
// tracer names the second call of a module forward1, the third forward2 ...
bool isForwardMethodName(const std::string& name);

// Rewrites the forward graphs of every module in `modules` (index i is the module's id in the tree;
// entries without a forward are skipped) and tags each instance with its id. Index 0, the root,
// is left alone: its output is the model's output.
void instrumentModules(const std::vector<torch::jit::Module>& modules);

struct RecorderLink;

// Everything one forward records. Lives on the caller's stack for the duration of Model::run and is
// reached from every thread the forward runs on (forked tasks): calls are serialised by the link's
// lock, and each thread has its own stack of entered modules.
class RunRecorder {
public:
    // With a job, entering a module checks its token and stops the forward there (throws
    // Cancelled), and reports the module as progress.
    RunRecorder(const std::vector<std::string>& moduleNames, std::vector<char> captureOutputs,
                std::vector<char> captureInputs, const JobControl* job = nullptr);
    ~RunRecorder(); // detaches: a forked task still running afterwards records nothing

    void enter(std::int64_t module);
    void recordInput(std::int64_t module, std::int64_t argument, const c10::IValue& value);
    void leave(std::int64_t module, const c10::IValue& output);
    // The tap: the output itself, or for the kept module (below) a clone that the rest of the
    // forward uses, so that its in-place ops (ReLU(inplace=True)) cannot change the kept tensor.
    at::Tensor tap(std::int64_t module, const at::Tensor& output);

    // For gradients: keep the live output tensor (not a copy) of one call of one module.
    void keepLive(int module, int call);
    const at::Tensor& live() const { return live_; }
    // True when an in-place op changed the kept output after the module returned (no tap there):
    // a gradient taken now would be of the changed tensor.
    bool liveChangedInPlace() const { return live_.defined() && live_._version() != liveVersion_; }
    // True when the forward changed the tap's clone in place after the module returned: without the
    // tap, the kept output would have been changed too.
    bool liveKeptByTap() const { return clone_.defined() && clone_._version() != cloneVersion_; }
    void detach(); // no more recording, from any thread

    // Splits a value into tensors named key, key[0], key[name] ...; non-tensors go to `skipped`.
    void collect(const c10::IValue& value, const std::string& key, const Capture& proto, std::vector<Capture>& into);

    int callCount(int module) const { return calls_[module]; }
    // True when the forward stopped because the token was cancelled (the interpreter rewraps the
    // exception, so its type does not survive).
    bool stoppedByCancel() const { return stoppedByCancel_; }
    // The innermost module that was entered on the calling thread and has not returned: where a
    // failed forward failed.
    int failedModule() const;
    std::vector<std::vector<std::int64_t>> failedModuleInputShapes() const;
    // Modules entered on another thread (a forked task) that had not returned when the forward
    // did: their captures are incomplete, not absent.
    std::vector<int> unfinishedModules() const;

    RunResult& result() { return result_; }

private:
    struct Frame {
        int module;
        int call;
        std::vector<c10::IValue> inputs; // kept for the message if this module fails
    };
    using Frames = std::vector<Frame>;
    std::string callKey(int module, int call) const;
    const Frames* framesOf(std::thread::id thread) const;
    bool takeFrame(std::int64_t module, Frame* frame);

    const std::vector<std::string>& names_;
    std::vector<char> captureOutputs_, captureInputs_;
    std::vector<int> calls_;
    std::unordered_map<std::thread::id, Frames> threads_;
    const std::thread::id owner_ = std::this_thread::get_id();
    const JobControl* job_;
    std::int64_t started_ = 0; // module calls so far
    bool stoppedByCancel_ = false;
    int liveModule_ = -1, liveCall_ = 0;
    bool tapPending_ = false;
    at::Tensor live_, clone_;
    std::uint32_t liveVersion_ = 0, cloneVersion_ = 0;
    RunResult result_;
    std::shared_ptr<RecorderLink> link_;
    std::unique_ptr<c10::DebugInfoGuard> guard_;
};

} // namespace layerscope::detail
