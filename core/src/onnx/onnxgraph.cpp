// readOnnxGraph: libonnx's protobuf classes read the file; everything OpenCV would trust blindly is
// checked here first (tensor sizes against their data, where values come from, which operators).

#include "onnx/onnxgraph_p.h"

#include "layerscope/error.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <unordered_set>

namespace layerscope::detail {

namespace {

constexpr std::int64_t kMostElements = std::int64_t(1) << 40;
constexpr std::size_t kDeepestScope = 256; // modules within modules: real models stay below 20

std::size_t elementBytes(int type)
{
    using T = onnx::TensorProto;
    switch (type) {
    case T::FLOAT:
    case T::INT32:
    case T::UINT32: return 4;
    case T::DOUBLE:
    case T::INT64:
    case T::UINT64: return 8;
    case T::FLOAT16:
    case T::BFLOAT16:
    case T::INT16:
    case T::UINT16: return 2;
    case T::INT8:
    case T::UINT8:
    case T::BOOL: return 1;
    default: return 0; // strings, complex numbers, undefined
    }
}

std::string typeName(int type)
{
    using T = onnx::TensorProto;
    switch (type) {
    case T::FLOAT: return "float32";
    case T::DOUBLE: return "float64";
    case T::FLOAT16: return "float16";
    case T::BFLOAT16: return "bfloat16";
    case T::INT8: return "int8";
    case T::INT16: return "int16";
    case T::INT32: return "int32";
    case T::INT64: return "int64";
    case T::UINT8: return "uint8";
    case T::UINT16: return "uint16";
    case T::UINT32: return "uint32";
    case T::UINT64: return "uint64";
    case T::BOOL: return "bool";
    case T::STRING: return "string";
    default: return "type " + std::to_string(type);
    }
}

// The values a tensor holds in its typed fields (raw_data aside).
std::int64_t typedCount(const onnx::TensorProto& t)
{
    using T = onnx::TensorProto;
    switch (t.data_type()) {
    case T::FLOAT: return t.float_data_size();
    case T::DOUBLE: return t.double_data_size();
    case T::INT64: return t.int64_data_size();
    case T::UINT32:
    case T::UINT64: return t.uint64_data_size();
    default: return t.int32_data_size(); // INT32, INT16, INT8, UINT16, UINT8, BOOL, FLOAT16, BFLOAT16
    }
}

// A tensor whose declared shape does not match the bytes it carries would be read past its end.
void checkTensor(const onnx::TensorProto& t, const std::string& what, const std::string& file)
{
    const std::string label = file + ": " + what;
    if (t.data_location() == onnx::TensorProto::EXTERNAL || t.external_data_size() > 0)
        throw Error(label
                    + " keeps its data in an external file; LayerScope opens self-contained .onnx files only "
                      "(save with onnx.save_model(model, path, save_as_external_data=False))");
    const std::size_t bytes = elementBytes(t.data_type());
    if (bytes == 0)
        throw Error(label + " is of " + typeName(t.data_type()) + ", which OpenCV DNN cannot hold");
    std::int64_t count = 1;
    for (const std::int64_t d : t.dims()) {
        if (d < 0 || (d > 0 && count > kMostElements / d))
            throw Error(label + " declares an impossible shape (a dimension of " + std::to_string(d) + ")");
        count *= d;
    }
    const std::int64_t held = t.has_raw_data() ? std::int64_t(t.raw_data().size() / bytes) : typedCount(t);
    if ((t.has_raw_data() && t.raw_data().size() % bytes != 0) || held != count)
        throw Error(label + " declares " + std::to_string(count) + " values but holds " + std::to_string(held)
                    + ": the file is damaged or crafted");
}

bool scalarFloat(const onnx::TensorProto& t, float* value)
{
    if (t.data_type() != onnx::TensorProto::FLOAT)
        return false;
    std::int64_t count = 1;
    for (const std::int64_t d : t.dims())
        count *= d;
    if (count != 1)
        return false;
    if (t.has_raw_data())
        std::memcpy(value, t.raw_data().data(), sizeof(float));
    else
        *value = t.float_data(0);
    return true;
}

// PyTorch's exporter names a node by the scope of the module that made it: segments of module names,
// then the operator. A segment is a module's name from its last non-numeric part ("layer1.0" under
// "layer1"); a repeated call of a module adds "_k" ("relu_1").
std::vector<std::string> rawSegments(const std::string& nodeName)
{
    std::vector<std::string> segments;
    if (nodeName.empty() || nodeName[0] != '/')
        return segments;
    std::size_t start = 1;
    for (std::size_t slash = nodeName.find('/', start); slash != std::string::npos;
         start = slash + 1, slash = nodeName.find('/', start))
        segments.push_back(nodeName.substr(start, slash - start));
    return segments; // the last part, the operator, is left out
}

std::string joinRaw(const std::vector<std::string>& segments, std::size_t count)
{
    std::string path;
    for (std::size_t i = 0; i < count; ++i)
        path += "/" + segments[i];
    return path;
}

bool isDigits(const std::string& text, std::size_t from)
{
    return from < text.size() && text.find_first_not_of("0123456789", from) == std::string::npos;
}

// "relu_1" -> "relu" when `siblings` (the segments under the same parent) hold "relu".
std::string withoutCallSuffix(const std::string& segment, const std::set<std::string>& siblings)
{
    const auto underscore = segment.rfind('_');
    if (underscore == std::string::npos || underscore == 0 || !isDigits(segment, underscore + 1))
        return segment;
    const std::string base = segment.substr(0, underscore);
    return siblings.count(base) ? base : segment;
}

std::string qualifiedName(const std::vector<std::string>& segments)
{
    std::string name;
    for (std::size_t i = 0; i < segments.size(); ++i) {
        const std::string& s = segments[i];
        if (i > 0 && s.size() > segments[i - 1].size() + 1 && s.compare(0, segments[i - 1].size(), segments[i - 1]) == 0
            && s[segments[i - 1].size()] == '.' && isDigits(s, segments[i - 1].size() + 1))
            name += s.substr(segments[i - 1].size());
        else
            name += (name.empty() ? "" : ".") + s;
    }
    return name;
}

bool isBufferName(const std::string& name)
{
    for (const char* suffix : {".running_mean", ".running_var", ".num_batches_tracked"}) {
        const std::size_t n = std::strlen(suffix);
        if (name.size() > n && name.compare(name.size() - n, n, suffix) == 0)
            return true;
    }
    return false;
}

// The file's graph with the two rewrites OpenCV 4.6 needs, each counted for the load note.
void rewriteForOpenCv(onnx::GraphProto& graph, std::vector<std::string>& notes)
{
    std::unordered_map<std::string, const onnx::TensorProto*> constants;
    std::unordered_set<std::string> initializers;
    for (const auto& t : graph.initializer()) {
        constants[t.name()] = &t;
        initializers.insert(t.name());
    }
    for (const auto& node : graph.node())
        if (node.op_type() == "Constant" && node.output_size() == 1)
            for (const auto& a : node.attribute())
                if (a.name() == "value" && a.has_t())
                    constants[node.output(0)] = &a.t();

    // The exporter shares equal weights through Identity nodes, which OpenCV cannot import.
    std::vector<onnx::TensorProto> copies;
    google::protobuf::RepeatedPtrField<onnx::NodeProto> kept;
    int identities = 0, clips = 0;
    for (auto& node : *graph.mutable_node()) {
        if (node.op_type() == "Identity" && node.input_size() == 1 && node.output_size() == 1) {
            if (initializers.count(node.input(0))) {
                const onnx::TensorProto* source = constants.at(node.input(0));
                onnx::TensorProto copy = *source;
                copy.set_name(node.output(0));
                copies.push_back(std::move(copy));
                initializers.insert(node.output(0)); // an Identity of this one is a weight too
                constants[node.output(0)] = source;
                ++identities;
                continue;
            }
        }
        // Opset 11 moved Clip's bounds from attributes to inputs; OpenCV 4.6 reads attributes only.
        if (node.op_type() == "Clip" && node.input_size() > 1) {
            float bounds[2] = {-std::numeric_limits<float>::infinity(), std::numeric_limits<float>::infinity()};
            bool constant = true;
            for (int i = 1; i < node.input_size() && i < 3; ++i) {
                if (node.input(i).empty())
                    continue;
                const auto it = constants.find(node.input(i));
                constant = constant && it != constants.end() && scalarFloat(*it->second, &bounds[i - 1]);
            }
            if (constant) {
                const std::string input = node.input(0);
                node.clear_input();
                node.add_input(input);
                const char* names[2] = {"min", "max"};
                for (int i = 0; i < 2; ++i) {
                    auto* attribute = node.add_attribute();
                    attribute->set_name(names[i]);
                    attribute->set_type(onnx::AttributeProto::FLOAT);
                    attribute->set_f(bounds[i]);
                }
                ++clips;
            }
        }
        *kept.Add() = std::move(node);
    }
    graph.mutable_node()->Swap(&kept);
    for (auto& copy : copies)
        *graph.add_initializer() = std::move(copy);
    if (identities)
        notes.push_back(std::to_string(identities) + " shared weights (Identity nodes) made separate initializers");
    if (clips)
        notes.push_back(std::to_string(clips) + " Clip nodes given their bounds as attributes");
}

// What a walk over the nodes learns about one call of a module (one scope instance).
struct Instance {
    std::string module;
    int call = 0;
    std::vector<std::string> outputs;
    std::string firstOp; // of the node making its first output, for the type of leaf modules
};

} // namespace

std::string scopeOfNode(const std::string& nodeName)
{
    const auto segments = rawSegments(nodeName);
    return qualifiedName(segments);
}

bool openCvRunsOperator(const std::string& op)
{
    // Found by importing a one-node graph of every ONNX operator with OpenCV 4.6 (opencv_onnx_ops.py).
    static const std::unordered_set<std::string> runs = {"Abs",
                                                         "Acos",
                                                         "Acosh",
                                                         "Add",
                                                         "ArgMax",
                                                         "ArgMin",
                                                         "Asin",
                                                         "Asinh",
                                                         "Atan",
                                                         "Atanh",
                                                         "AveragePool",
                                                         "BatchNormalization",
                                                         "Cast",
                                                         "Ceil",
                                                         "Celu",
                                                         "Clip",
                                                         "Concat",
                                                         "Constant",
                                                         "ConstantOfShape",
                                                         "Conv",
                                                         "ConvTranspose",
                                                         "Cos",
                                                         "Cosh",
                                                         "CumSum",
                                                         "DepthToSpace",
                                                         "DequantizeLinear",
                                                         "Div",
                                                         "Dropout",
                                                         "Elu",
                                                         "Equal",
                                                         "Erf",
                                                         "Exp",
                                                         "Expand",
                                                         "Flatten",
                                                         "Floor",
                                                         "GRU",
                                                         "Gather",
                                                         "Gemm",
                                                         "GlobalAveragePool",
                                                         "GlobalMaxPool",
                                                         "Greater",
                                                         "HardSigmoid",
                                                         "HardSwish",
                                                         "Identity",
                                                         "InstanceNormalization",
                                                         "LRN",
                                                         "LSTM",
                                                         "LeakyRelu",
                                                         "Less",
                                                         "Log",
                                                         "LogSoftmax",
                                                         "MatMul",
                                                         "Max",
                                                         "MaxPool",
                                                         "MaxUnpool",
                                                         "Min",
                                                         "Mul",
                                                         "Neg",
                                                         "Not",
                                                         "PRelu",
                                                         "Pad",
                                                         "Pow",
                                                         "QLinearConv",
                                                         "QLinearMatMul",
                                                         "QuantizeLinear",
                                                         "Reciprocal",
                                                         "ReduceL1",
                                                         "ReduceL2",
                                                         "ReduceLogSum",
                                                         "ReduceLogSumExp",
                                                         "ReduceMax",
                                                         "ReduceMean",
                                                         "ReduceMin",
                                                         "ReduceProd",
                                                         "ReduceSum",
                                                         "ReduceSumSquare",
                                                         "Relu",
                                                         "Reshape",
                                                         "Resize",
                                                         "Round",
                                                         "Selu",
                                                         "Shape",
                                                         "Shrink",
                                                         "Sigmoid",
                                                         "Sign",
                                                         "Sin",
                                                         "Sinh",
                                                         "Slice",
                                                         "Softmax",
                                                         "Softplus",
                                                         "Softsign",
                                                         "SpaceToDepth",
                                                         "Split",
                                                         "Sqrt",
                                                         "Squeeze",
                                                         "Sub",
                                                         "Sum",
                                                         "Tan",
                                                         "Tanh",
                                                         "ThresholdedRelu",
                                                         "Transpose",
                                                         "Unsqueeze",
                                                         "Upsample"};
    return runs.count(op) > 0;
}

OnnxGraph readOnnxGraph(const void* bytes, std::size_t size, const std::string& name)
{
    if (size == 0)
        throw Error(name + ": the file is empty");
    if (size > std::size_t(std::numeric_limits<int>::max()))
        throw Error(name + ": larger than the 2 GiB a self-contained ONNX file can be");
    onnx::ModelProto model;
    if (!model.ParseFromArray(bytes, int(size)) || !model.has_graph() || model.graph().node_size() == 0)
        throw Error(name + ": not an ONNX model (no graph could be read; truncated, or another format)");
    onnx::GraphProto& graph = *model.mutable_graph();

    // Everything OpenCV would read blindly.
    if (graph.sparse_initializer_size() > 0)
        throw Error(name + ": sparse initializers are not supported");
    std::unordered_set<std::string> known; // values defined so far
    for (const auto& t : graph.initializer()) {
        checkTensor(t, "initializer '" + t.name() + "'", name);
        known.insert(t.name());
    }
    for (const auto& input : graph.input())
        known.insert(input.name());
    std::map<std::string, std::pair<int, std::string>> unsupported; // op -> (nodes, first module)
    for (const auto& node : graph.node()) {
        const std::string where = "node '" + node.name() + "' (" + node.op_type() + ")";
        for (const auto& a : node.attribute()) {
            if (a.has_t())
                checkTensor(a.t(), where + " attribute '" + a.name() + "'", name);
            for (const auto& t : a.tensors())
                checkTensor(t, where + " attribute '" + a.name() + "'", name);
        }
        const bool standard = node.domain().empty() || node.domain() == "ai.onnx";
        if (!standard || !openCvRunsOperator(node.op_type())) {
            auto& entry = unsupported[(standard ? "" : node.domain() + ".") + node.op_type()];
            if (entry.first++ == 0)
                entry.second = scopeOfNode(node.name());
        }
        for (const auto& input : node.input())
            if (!input.empty() && !known.count(input))
                throw Error(name + ": " + where + " uses '" + input
                            + "' before any node makes it (the graph is not in order, or damaged)");
        for (const auto& output : node.output())
            known.insert(output);
    }
    if (!unsupported.empty()) {
        std::string list;
        for (const auto& [op, entry] : unsupported)
            list += (list.empty() ? "" : ", ") + op + " (" + std::to_string(entry.first)
                + (entry.first == 1 ? " node" : " nodes")
                + (entry.second.empty() ? std::string() : ", first in " + entry.second) + ")";
        throw Error(name + ": OpenCV DNN cannot run " + std::to_string(unsupported.size())
                    + (unsupported.size() == 1 ? " operator" : " operators") + " of this model: " + list
                    + "; open its TorchScript export instead");
    }

    OnnxGraph result;
    rewriteForOpenCv(graph, result.rewrites);

    std::unordered_set<std::string> initializers;
    for (const auto& t : graph.initializer())
        initializers.insert(t.name());
    for (const auto& input : graph.input()) {
        if (initializers.count(input.name()))
            continue; // files before IR version 4 list weights as inputs too
        OnnxInput info;
        info.name = input.name();
        const auto& type = input.type().tensor_type();
        info.type = typeName(type.elem_type());
        if (type.elem_type() != onnx::TensorProto::FLOAT)
            throw Error(name + ": input '" + info.name + "' is " + info.type
                        + "; OpenCV DNN runs models whose inputs are float32");
        for (const auto& d : type.shape().dim())
            info.shape.push_back(d.has_dim_value() && d.dim_value() > 0 ? d.dim_value() : -1);
        result.inputs.push_back(std::move(info));
    }
    if (result.inputs.empty())
        throw Error(name + ": the graph has no input");
    for (const auto& output : graph.output())
        result.outputs.push_back(output.name());

    // Scopes: raw paths per node, then sibling sets to tell a call suffix from a name.
    const int nodeCount = graph.node_size();
    std::vector<std::vector<std::string>> raw(static_cast<std::size_t>(nodeCount));
    std::map<std::string, std::set<std::string>> children; // raw parent path -> segments under it
    for (int i = 0; i < nodeCount; ++i) {
        const auto& node = graph.node(i);
        raw[std::size_t(i)] = rawSegments(node.name());
        if (raw[std::size_t(i)].size() > kDeepestScope) // the tree code recurses once per level
            throw Error(name + ": node '" + node.name().substr(0, 80) + "...' is nested "
                        + std::to_string(raw[std::size_t(i)].size()) + " modules deep; LayerScope reads at most "
                        + std::to_string(kDeepestScope));
        for (std::size_t k = 0; k < raw[std::size_t(i)].size(); ++k)
            children[joinRaw(raw[std::size_t(i)], k)].insert(raw[std::size_t(i)][k]);
        for (int o = 0; o < node.output_size(); ++o)
            result.producers[node.output(o)] = {node.name().empty() ? node.output(0) : node.name(), o};
    }
    // The modules each node's scope names, outermost first; its own module's call is the place of its
    // raw scope among that module's ("relu" then "relu_1"). The exporter suffixes only the innermost
    // scope, so a container's calls are inferred: as many as the fewest calls of a module inside it,
    // each holding an equal run of the calls of the modules within.
    std::vector<std::vector<std::string>> chains(static_cast<std::size_t>(nodeCount));
    std::vector<std::string> rawPath(static_cast<std::size_t>(nodeCount));
    std::unordered_map<std::string, std::vector<std::string>> directCalls; // module -> raw scopes, in order
    for (int i = 0; i < nodeCount; ++i) {
        const auto& segments = raw[std::size_t(i)];
        std::vector<std::string> canonical;
        for (std::size_t k = 0; k < segments.size(); ++k) {
            canonical.push_back(withoutCallSuffix(segments[k], children[joinRaw(segments, k)]));
            chains[std::size_t(i)].push_back(qualifiedName(canonical));
        }
        if (segments.empty())
            continue;
        rawPath[std::size_t(i)] = joinRaw(segments, segments.size());
        auto& paths = directCalls[chains[std::size_t(i)].back()];
        if (std::find(paths.begin(), paths.end(), rawPath[std::size_t(i)]) == paths.end())
            paths.push_back(rawPath[std::size_t(i)]);
    }
    std::unordered_map<std::string, std::size_t> fewestCalls;
    for (int i = 0; i < nodeCount; ++i) {
        if (chains[std::size_t(i)].empty())
            continue;
        const std::size_t count = directCalls[chains[std::size_t(i)].back()].size();
        for (const auto& module : chains[std::size_t(i)]) {
            const auto it = fewestCalls.find(module);
            fewestCalls[module] = it == fewestCalls.end() ? count : std::min(it->second, count);
        }
    }
    std::map<std::pair<std::string, std::size_t>, int> instanceIndex;
    std::vector<Instance> instances;
    std::vector<std::vector<int>> nodeInstances(static_cast<std::size_t>(nodeCount)); // outermost first
    for (int i = 0; i < nodeCount; ++i) {
        const auto& chain = chains[std::size_t(i)];
        if (chain.empty())
            continue;
        const auto& paths = directCalls[chain.back()];
        const std::size_t own
            = std::size_t(std::find(paths.begin(), paths.end(), rawPath[std::size_t(i)]) - paths.begin());
        for (const auto& module : chain) {
            const std::size_t call = own * fewestCalls[module] / paths.size();
            auto it = instanceIndex.find({module, call});
            if (it == instanceIndex.end()) {
                it = instanceIndex.emplace(std::make_pair(module, call), int(instances.size())).first;
                instances.push_back({module, int(call), {}, {}});
            }
            nodeInstances[std::size_t(i)].push_back(it->second);
        }
    }
    // A value leaves every instance of its producer that does not hold all of its consumers.
    std::unordered_map<std::string, int> producerNode;
    for (int i = 0; i < nodeCount; ++i)
        for (const auto& output : graph.node(i).output())
            producerNode[output] = i;
    std::unordered_map<std::string, std::size_t> sharedDepth; // value -> instances its uses all share
    for (const auto& [value, node] : producerNode)
        sharedDepth[value] = nodeInstances[std::size_t(node)].size();
    auto commonDepth = [&](int a, int b) {
        const auto &x = nodeInstances[std::size_t(a)], &y = nodeInstances[std::size_t(b)];
        std::size_t n = 0;
        while (n < x.size() && n < y.size() && x[n] == y[n])
            ++n;
        return n;
    };
    for (int i = 0; i < nodeCount; ++i)
        for (const auto& input : graph.node(i).input()) {
            const auto it = producerNode.find(input);
            if (it != producerNode.end())
                sharedDepth[input] = std::min(sharedDepth[input], commonDepth(it->second, i));
        }
    for (const auto& output : result.outputs)
        sharedDepth[output] = 0;
    for (int i = 0; i < nodeCount; ++i) {
        const auto& node = graph.node(i);
        for (const auto& output : node.output()) {
            const auto& mine = nodeInstances[std::size_t(i)];
            for (std::size_t depth = sharedDepth[output]; depth < mine.size(); ++depth) {
                Instance& instance = instances[std::size_t(mine[depth])];
                if (instance.outputs.empty())
                    instance.firstOp = node.op_type();
                instance.outputs.push_back(output);
            }
        }
    }

    // The tree: modules in the order they first run, every ancestor before its children, then pre-order.
    std::vector<std::string> order;
    std::unordered_map<std::string, std::vector<std::string>> childNames;
    std::unordered_set<std::string> seen {""};
    std::function<void(const std::string&)> note = [&](const std::string& module) {
        if (seen.count(module))
            return;
        const auto dot = module.rfind('.');
        const std::string parent = dot == std::string::npos ? std::string() : module.substr(0, dot);
        note(parent);
        seen.insert(module);
        childNames[parent].push_back(module);
    };
    std::unordered_map<std::string, std::string> leafOp;
    std::unordered_set<std::string> running;
    for (const auto& instance : instances) {
        note(instance.module);
        running.insert(instance.module);
        if (!leafOp.count(instance.module))
            leafOp[instance.module] = instance.firstOp;
    }
    std::function<void(const std::string&)> preorder = [&](const std::string& module) {
        order.push_back(module);
        for (const auto& child : childNames[module])
            preorder(child);
    };
    preorder("");
    std::unordered_map<std::string, int> index;
    for (std::size_t i = 0; i < order.size(); ++i) {
        ModuleInfo info;
        info.name = order[i];
        info.hasForward = info.name.empty() || running.count(info.name) > 0;
        info.typeName = info.name.empty()    ? "Graph"
            : !childNames[info.name].empty() ? "Module"
            : leafOp[info.name].empty()      ? "Module"
                                             : leafOp[info.name];
        index[info.name] = int(i);
        if (!info.name.empty()) {
            const auto dot = info.name.rfind('.');
            info.parent = index.at(dot == std::string::npos ? std::string() : info.name.substr(0, dot));
            info.depth = result.modules[std::size_t(info.parent)].depth + 1;
            result.modules[std::size_t(info.parent)].children.push_back(int(i));
        }
        result.modules.push_back(std::move(info));
    }
    // In the order calls end, as forward hooks see them: by the node that makes the last output,
    // and of calls ending at one node (a block's last ReLU, the block, its stage) the innermost first.
    std::vector<std::pair<std::pair<int, int>, OnnxModuleCall>> ending;
    for (const auto& instance : instances) {
        if (instance.outputs.empty())
            continue;
        int last = 0;
        for (const auto& value : instance.outputs)
            last = std::max(last, producerNode.at(value));
        const int module = index.at(instance.module);
        ending.push_back(
            {{last, -result.modules[std::size_t(module)].depth}, {module, instance.call, instance.outputs}});
    }
    std::stable_sort(ending.begin(), ending.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& entry : ending)
        result.calls.push_back(std::move(entry.second));

    // Parameters: a weight named after its module, else the module of the node that uses it.
    auto moduleOfName = [&](const std::string& tensorName) {
        for (auto dot = tensorName.rfind('.'); dot != std::string::npos && dot > 0;
             dot = tensorName.rfind('.', dot - 1)) {
            const auto it = index.find(tensorName.substr(0, dot));
            if (it != index.end())
                return it->second;
        }
        return -1;
    };
    std::unordered_map<std::string, int> firstUser;
    for (int i = nodeCount - 1; i >= 0; --i)
        for (const auto& input : graph.node(i).input())
            firstUser[input] = nodeInstances[std::size_t(i)].empty()
                ? 0
                : index.at(instances[std::size_t(nodeInstances[std::size_t(i)].back())].module);
    bool dtypeKnown = false;
    for (const auto& t : graph.initializer()) {
        const int type = t.data_type();
        if (type != onnx::TensorProto::FLOAT && type != onnx::TensorProto::DOUBLE && type != onnx::TensorProto::FLOAT16)
            continue;
        if (!dtypeKnown) {
            result.parameterDType = type == onnx::TensorProto::FLOAT ? DType::Float32
                : type == onnx::TensorProto::DOUBLE                  ? DType::Float64
                                                                     : DType::Float16;
            dtypeKnown = true;
        }
        if (isBufferName(t.name()))
            continue;
        int owner = moduleOfName(t.name());
        if (owner < 0) {
            const auto user = firstUser.find(t.name());
            if (user == firstUser.end())
                continue;
            owner = user->second;
        }
        std::int64_t count = 1;
        for (const std::int64_t d : t.dims())
            count *= d;
        result.modules[std::size_t(owner)].ownParameters += count;
    }
    for (std::size_t i = result.modules.size(); i-- > 0;) {
        auto& module = result.modules[i];
        module.totalParameters += module.ownParameters;
        if (module.parent >= 0)
            result.modules[std::size_t(module.parent)].totalParameters += module.totalParameters;
    }

    // TrainingMode.EVAL folds a BatchNorm into the convolution before it: the convolution's node then
    // holds both, with a new weight the exporter names itself.
    std::unordered_map<std::string, const onnx::TensorProto*> weights;
    for (const auto& t : graph.initializer())
        weights[t.name()] = &t;
    for (int i = 0; i < nodeCount; ++i) {
        const auto& node = graph.node(i);
        if (nodeInstances[std::size_t(i)].empty() || node.input_size() < 2)
            continue;
        const auto weight = weights.find(node.input(1));
        if (weight == weights.end())
            continue;
        if (result.imageChannels == 0 && node.op_type() == "Conv" && weight->second->dims_size() == 4)
            result.imageChannels = int(weight->second->dims(1));
        const std::string& module = instances[std::size_t(nodeInstances[std::size_t(i)].back())].module;
        if ((node.op_type() == "Conv" || node.op_type() == "ConvTranspose") && node.input(1) != module + ".weight"
            && moduleOfName(node.input(1)) < 0)
            result.modules[std::size_t(index.at(module))].unavailable
                = "the exporter folded the BatchNorm after it into this " + node.op_type()
                + " (torch.onnx.export in TrainingMode.EVAL), so the file holds their combined output, not this "
                  "module's; export with training=torch.onnx.TrainingMode.PRESERVE to capture it";
    }

    if (!model.SerializeToString(&result.serialized))
        throw Error(name + ": the rewritten model could not be serialized for OpenCV");
    return result;
}

} // namespace layerscope::detail
