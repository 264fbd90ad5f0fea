#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace layerscope {

// One entry of named_modules(): the root is "" and comes first, children follow in pre-order.
struct ModuleInfo {
    std::string name;                 // qualified name as PyTorch's named_modules() gives it: "feature_model.cnn.3"
    std::string typeName;             // short class name: "Conv2d", "Sequential", or the user's own class
    std::int64_t ownParameters = 0;   // elements of the parameters registered on this module itself
    std::int64_t totalParameters = 0; // ... of this module and all below it (shared tensors counted once)
    int parent = -1;                  // index into the tree, -1 for the root
    std::vector<int> children;
    int depth = 0;
    bool hasForward = true; // containers such as ModuleList have no forward and never run
    // Why this module's output cannot be captured although it runs, empty when it can: in an ONNX file
    // exported with TrainingMode.EVAL, a convolution's node also holds the BatchNorm folded into it.
    std::string unavailable;
};

// One argument of the model's forward (self excluded).
struct ArgumentInfo {
    std::string name;
    std::string type; // TorchScript type: "Tensor", "Optional[Tensor]", ...; ONNX: "Tensor[?, 3, 224, 224]"
    bool hasDefault = false;
    std::vector<std::int64_t> shape; // as the file declares it (ONNX), -1 where free; empty when unknown
};

} // namespace layerscope
