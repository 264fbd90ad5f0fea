#pragma once
// Capture by graph instrumentation: LibTorch has no forward hooks, so after loading, every module
// type's forward graph gets calls to three side-effecting operators (see DESIGN.md):
//   layerscope::enter(int module)                         first thing in forward
//   layerscope::record_input(int module, int arg, Any v)  once per argument
//   layerscope::leave(int module, Any output)             just before return
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
    RunResult result_;
    std::shared_ptr<RecorderLink> link_;
    std::unique_ptr<c10::DebugInfoGuard> guard_;
};

} // namespace layerscope::detail
