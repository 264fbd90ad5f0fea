#pragma once
// An ONNX file read with libonnx's protobuf classes, checked, rewritten where OpenCV 4.6 rejects
// valid graphs, and turned into the PyTorch module tree its node names describe. No OpenCV here.

#include "layerscope/moduletree.h"
#include "layerscope/tensor.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace layerscope::detail {

struct OnnxInput {
    std::string name;
    std::vector<std::int64_t> shape; // -1 where the file names a symbolic dimension ("batch")
    std::string type;                // "float32", ...
};

// Where a value comes from: output `output` of node `node` (OpenCV's layer "onnx_node!" + node).
struct OnnxProducer {
    std::string node;
    int output = 0;
};

// One call of a module: the values its scope produced that are used outside it (its outputs).
struct OnnxModuleCall {
    int module = 0;
    int call = 0;
    std::vector<std::string> values;
};

struct OnnxGraph {
    std::string serialized;          // the model after the rewrites, for OpenCV
    std::vector<ModuleInfo> modules; // root first, then pre-order
    std::vector<OnnxInput> inputs;
    std::vector<std::string> outputs; // the graph's output values
    std::unordered_map<std::string, OnnxProducer> producers;
    std::vector<OnnxModuleCall> calls; // in the order they end, as forward hooks see them
    std::vector<std::string> rewrites; // what was changed for OpenCV, for the load note
    DType parameterDType = DType::Float32;
    int imageChannels = 0; // channels of the first convolution's weight
};

// Parses and checks `size` bytes of an ONNX ModelProto; `name` stands for the file in messages.
// Throws layerscope::Error (one line naming the file): not ONNX, truncated, a tensor whose data does
// not match its shape, data in external files, or operators OpenCV DNN cannot run (all listed).
OnnxGraph readOnnxGraph(const void* bytes, std::size_t size, const std::string& name);

// The module a node belongs to, from PyTorch's scope name "/layer1/layer1.0/relu_1/Relu": segments
// rebuilt to a qualified name, with the call suffix kept ("layer1.0.relu_1"). Outside a scope: "".
std::string scopeOfNode(const std::string& nodeName);

// The ONNX operators OpenCV 4.6's importer runs (tests/fixtures/opencv_onnx_ops.py finds them).
bool openCvRunsOperator(const std::string& opType);

} // namespace layerscope::detail
