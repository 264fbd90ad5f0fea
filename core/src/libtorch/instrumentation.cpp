#include "libtorch/instrumentation_p.h"

#include "libtorch/torchbridge_p.h"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/library.h>

#include <unordered_set>

namespace layerscope::detail {

namespace {

constexpr const char* kModuleIdAttribute = "__layerscope_module_id";

// The debug-info slot LibTorch reserves for the application's own information; it is nothing else
// in a LayerScope process.
constexpr auto kRecorderSlot = c10::DebugInfoKind::PRODUCER_INFO;

} // namespace

// What the operators find in the thread-local debug info: shared with forked tasks, which may
// outlive the forward (a fork that is never waited for), hence the pointer cleared on detach.
struct RecorderLink : c10::DebugInfoBase {
    std::mutex mutex;
    RunRecorder* recorder = nullptr;
    // Set once before the forward when a module's output is kept for gradients: every other forward's
    // taps return at once, without the lock (they run in every module call).
    bool keepsLive = false;
};

namespace {

template <typename Call> void withRecorder(Call&& call)
{
    auto* link = static_cast<RecorderLink*>(c10::ThreadLocalDebugInfo::get(kRecorderSlot));
    if (!link)
        return;
    std::lock_guard<std::mutex> lock(link->mutex);
    if (link->recorder)
        call(*link->recorder);
}

// Boxed kernels: arguments arrive on the interpreter's stack.
void enterKernel(const c10::OperatorHandle&, torch::jit::Stack* stack)
{
    const auto module = torch::jit::pop(*stack).toInt();
    withRecorder([&](RunRecorder& recorder) { recorder.enter(module); });
}

void recordInputKernel(const c10::OperatorHandle&, torch::jit::Stack* stack)
{
    auto value = torch::jit::pop(*stack);
    const auto argument = torch::jit::pop(*stack).toInt();
    const auto module = torch::jit::pop(*stack).toInt();
    withRecorder([&](RunRecorder& recorder) { recorder.recordInput(module, argument, value); });
}

void leaveKernel(const c10::OperatorHandle&, torch::jit::Stack* stack)
{
    auto value = torch::jit::pop(*stack);
    const auto module = torch::jit::pop(*stack).toInt();
    withRecorder([&](RunRecorder& recorder) { recorder.leave(module, value); });
}

void tapKernel(const c10::OperatorHandle&, torch::jit::Stack* stack)
{
    at::Tensor value = torch::jit::pop(*stack).toTensor();
    const auto module = torch::jit::pop(*stack).toInt();
    const auto* link = static_cast<RecorderLink*>(c10::ThreadLocalDebugInfo::get(kRecorderSlot));
    if (link && link->keepsLive)
        withRecorder([&](RunRecorder& recorder) { value = recorder.tap(module, value); });
    torch::jit::push(*stack, std::move(value));
}

} // namespace

// CONSERVATIVE marks the operators as having side effects; without it the graph optimiser
// removes them as dead code and nothing is recorded.
TORCH_LIBRARY(layerscope, m)
{
    const auto conservative = c10::AliasAnalysisKind::CONSERVATIVE;
    m.def(torch::schema("layerscope::enter(int module) -> ()", conservative),
          torch::CppFunction::makeFromBoxedFunction<&enterKernel>());
    m.def(torch::schema("layerscope::record_input(int module, int argument, Any value) -> ()", conservative),
          torch::CppFunction::makeFromBoxedFunction<&recordInputKernel>());
    m.def(torch::schema("layerscope::leave(int module, Any value) -> ()", conservative),
          torch::CppFunction::makeFromBoxedFunction<&leaveKernel>());
    // A catch-all kernel: autograd sees the clone it may make, so gradients flow through it.
    m.def(torch::schema("layerscope::tap(int module, Tensor value) -> Tensor", conservative),
          torch::CppFunction::makeFromBoxedFunction<&tapKernel>());
}

namespace {

void instrumentForwardGraph(torch::jit::Graph& graph)
{
    using namespace torch::jit;
    static const auto enterSymbol = c10::Symbol::fromQualString("layerscope::enter");
    static const auto recordInputSymbol = c10::Symbol::fromQualString("layerscope::record_input");
    static const auto leaveSymbol = c10::Symbol::fromQualString("layerscope::leave");
    static const auto tapSymbol = c10::Symbol::fromQualString("layerscope::tap");

    Value* self = graph.inputs().at(0);
    Value* moduleId = nullptr;
    {
        WithInsertPoint atStart(*graph.nodes().begin());
        moduleId = graph.insertNode(graph.createGetAttr(self, kModuleIdAttribute))->output();
        graph.insertNode(graph.create(enterSymbol, {moduleId}, 0));
        for (std::size_t i = 1; i < graph.inputs().size(); ++i) {
            Value* argument = graph.insertConstant(static_cast<std::int64_t>(i - 1));
            graph.insertNode(graph.create(recordInputSymbol, {moduleId, argument, graph.inputs()[i]}, 0));
        }
    }
    WithInsertPoint beforeReturn(graph.return_node());
    Value* output = graph.outputs().at(0);
    graph.insertNode(graph.create(leaveSymbol, {moduleId, output}, 0));
    if (output->type()->kind() == c10::TypeKind::TensorType) {
        Node* tap = graph.insertNode(graph.create(tapSymbol, {moduleId, output}, 1));
        tap->output()->setType(output->type());
        graph.return_node()->replaceInput(0, tap->output());
    }
}

} // namespace

bool isForwardMethodName(const std::string& name)
{
    if (name.rfind("forward", 0) != 0)
        return false;
    std::size_t digits = name.compare(0, 9, "forward__") == 0 ? 9 : 7;
    if (digits == name.size())
        return digits == 7;
    return name.find_first_not_of("0123456789", digits) == std::string::npos;
}

void instrumentModules(const std::vector<torch::jit::Module>& modules)
{
    std::unordered_set<const torch::jit::Function*> instrumented;
    for (std::size_t id = 1; id < modules.size(); ++id) {
        const auto& module = modules[id];
        auto type = module.type();
        for (const auto& method : module.get_methods()) {
            if (!isForwardMethodName(method.name()))
                continue;
            if (!type->hasAttribute(kModuleIdAttribute))
                type->addAttribute(kModuleIdAttribute, c10::IntType::get());
            module._ivalue()->setAttr(kModuleIdAttribute, static_cast<std::int64_t>(id));
            // Instances of one type share one compiled forward: rewrite it once.
            auto& function = method.function();
            if (!instrumented.insert(&function).second)
                continue;
            if (auto* graphFunction = torch::jit::tryToGraphFunction(function))
                instrumentForwardGraph(*graphFunction->graph());
        }
    }
}

RunRecorder::RunRecorder(const std::vector<std::string>& moduleNames, std::vector<char> captureOutputs,
                         std::vector<char> captureInputs, const JobControl* job)
    : names_(moduleNames)
    , captureOutputs_(std::move(captureOutputs))
    , captureInputs_(std::move(captureInputs))
    , calls_(moduleNames.size(), 0)
    , job_(job)
    , link_(std::make_shared<RecorderLink>())
{
    link_->recorder = this;
    guard_ = std::make_unique<c10::DebugInfoGuard>(kRecorderSlot, link_);
}

RunRecorder::~RunRecorder()
{
    guard_.reset();
    detach();
}

void RunRecorder::detach()
{
    std::lock_guard<std::mutex> lock(link_->mutex);
    link_->recorder = nullptr;
}

const RunRecorder::Frames* RunRecorder::framesOf(std::thread::id thread) const
{
    const auto found = threads_.find(thread);
    return found == threads_.end() ? nullptr : &found->second;
}

// The frame a leave closes: normally the top of this thread's stack. A forked task that waited for
// another may resume on a different pool thread, so look further down, then on other threads.
bool RunRecorder::takeFrame(std::int64_t module, Frame* frame)
{
    auto takeFrom = [&](Frames& frames) {
        for (auto it = frames.rbegin(); it != frames.rend(); ++it) {
            if (it->module == module) {
                *frame = std::move(*it);
                frames.erase(std::next(it).base());
                return true;
            }
        }
        return false;
    };
    if (takeFrom(threads_[std::this_thread::get_id()]))
        return true;
    for (auto& [thread, frames] : threads_) {
        if (takeFrom(frames))
            return true;
    }
    return false;
}

int RunRecorder::failedModule() const
{
    std::lock_guard<std::mutex> lock(link_->mutex);
    const Frames* own = framesOf(owner_);
    return own && !own->empty() ? own->back().module : -1;
}

std::vector<int> RunRecorder::unfinishedModules() const
{
    std::lock_guard<std::mutex> lock(link_->mutex);
    std::vector<int> modules;
    for (const auto& [thread, frames] : threads_) {
        if (thread == owner_)
            continue;
        for (const auto& frame : frames)
            modules.push_back(frame.module);
    }
    return modules;
}

std::string RunRecorder::callKey(int module, int call) const
{
    return call == 0 ? names_[module] : names_[module] + ":" + std::to_string(call);
}

void RunRecorder::enter(std::int64_t module)
{
    if (module < 0 || module >= static_cast<std::int64_t>(calls_.size()))
        return;
    // Between modules is a safe point: nothing half-done, the forward unwinds through the interpreter.
    if (job_ && job_->cancel.cancelled()) {
        stoppedByCancel_ = true;
        throw Cancelled();
    }
    const int id = static_cast<int>(module);
    if (job_)
        job_->report(++started_, static_cast<std::int64_t>(names_.size()), "forward: " + names_[id]);
    threads_[std::this_thread::get_id()].push_back({id, calls_[id]++, {}});
}

void RunRecorder::recordInput(std::int64_t module, std::int64_t argument, const c10::IValue& value)
{
    // Arguments are recorded right after enter, on the same thread.
    Frames& own = threads_[std::this_thread::get_id()];
    if (own.empty() || own.back().module != module)
        return;
    Frame& frame = own.back();
    frame.inputs.push_back(value);
    if (!captureInputs_[frame.module])
        return;
    std::string key = callKey(frame.module, frame.call) + ">in";
    if (argument > 0 || !(value.isTensor() || value.isNone()))
        key += "[" + std::to_string(argument) + "]";
    Capture proto;
    proto.module = names_[frame.module];
    proto.call = frame.call;
    proto.isInput = true;
    collect(value, key, proto, result_.captures);
}

void RunRecorder::leave(std::int64_t module, const c10::IValue& output)
{
    Frame frame;
    if (!takeFrame(module, &frame))
        return;
    if (frame.module == liveModule_ && frame.call == liveCall_ && output.isTensor() && !live_.defined()) {
        live_ = output.toTensor();
        liveVersion_ = live_._version();
        tapPending_ = true; // the tap right after this leave makes the clone the forward goes on with
    }
    if (!captureOutputs_[frame.module])
        return;
    Capture proto;
    proto.module = names_[frame.module];
    proto.call = frame.call;
    collect(output, callKey(frame.module, frame.call), proto, result_.captures);
}

at::Tensor RunRecorder::tap(std::int64_t module, const at::Tensor& output)
{
    if (!tapPending_ || module != liveModule_ || !output.is_same(live_))
        return output;
    tapPending_ = false;
    clone_ = output.clone();
    cloneVersion_ = clone_._version();
    return clone_;
}

void RunRecorder::keepLive(int module, int call)
{
    liveModule_ = module;
    liveCall_ = call;
    link_->keepsLive = true; // before the forward starts: read-only while it runs
}

void RunRecorder::collect(const c10::IValue& value, const std::string& key, const Capture& proto,
                          std::vector<Capture>& into)
{
    if (value.isTensor()) {
        const at::Tensor& tensor = value.toTensor();
        DType dtype;
        if (tensor.layout() != at::kStrided || !fromScalarType(tensor.scalar_type(), &dtype)) {
            result_.skipped.push_back({key,
                                       std::string("Tensor(") + c10::toString(tensor.scalar_type()) + ", "
                                           + c10::toString(tensor.layout()) + ")"});
            return;
        }
        Capture capture = proto;
        capture.key = key;
        // A copy, not a view: a later in-place op (ReLU(inplace=True)) must not change what was seen.
        capture.tensor = fromAten(tensor.detach().clone(at::MemoryFormat::Contiguous));
        into.push_back(std::move(capture));
    } else if (value.isTuple()) {
        const auto& elements = value.toTupleRef().elements();
        for (std::size_t i = 0; i < elements.size(); ++i)
            collect(elements[i], key + "[" + std::to_string(i) + "]", proto, into);
    } else if (value.isList()) {
        const auto elements = value.toListRef();
        for (std::size_t i = 0; i < elements.size(); ++i)
            collect(elements[i], key + "[" + std::to_string(i) + "]", proto, into);
    } else if (value.isGenericDict()) {
        for (const auto& item : value.toGenericDict()) {
            const auto& k = item.key();
            const std::string name = k.isString() ? k.toStringRef()
                : k.isInt()                       ? std::to_string(k.toInt())
                                                  : k.type()->annotation_str();
            collect(item.value(), key + "[" + name + "]", proto, into);
        }
    } else {
        result_.skipped.push_back({key, value.type()->annotation_str()});
    }
}

std::vector<std::vector<std::int64_t>> RunRecorder::failedModuleInputShapes() const
{
    std::lock_guard<std::mutex> lock(link_->mutex);
    std::vector<std::vector<std::int64_t>> shapes;
    const Frames* own = framesOf(owner_);
    if (!own || own->empty())
        return shapes;
    for (const auto& input : own->back().inputs) {
        if (input.isTensor()) {
            const auto sizes = input.toTensor().sizes();
            shapes.emplace_back(sizes.begin(), sizes.end());
        }
    }
    return shapes;
}

} // namespace layerscope::detail
