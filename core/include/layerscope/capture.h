#pragma once

#include "layerscope/tensor.h"

#include <string>
#include <vector>

namespace layerscope {

// What to record during one forward. Changing it needs no reload of the model.
struct CaptureRequest {
    std::vector<std::string> outputsOf; // qualified module names
    std::vector<std::string> inputsOf;  // qualified module names whose arguments are recorded too
};

// Adds what records capture `key` ("fc>in[1]": fc's inputs; "encoder:1", "out[0]": that module's
// output; "output": nothing, the model's output is always recorded) to `request`.
void addCaptureKey(const std::string& key, CaptureRequest& request);

// One recorded tensor, named as DESIGN.md says: "cnn.0", "fm:1", "enc[0]", "fc>in", "output".
struct Capture {
    std::string key;
    std::string module; // qualified name of the module ("" for the model's own output)
    int call = 0;       // 0 for the first call of the module in this forward, 1 for the second ...
    bool isInput = false;
    Tensor tensor; // detached copy: later in-place operations do not change it
};

// A value inside a selected module's output (or input) that is not a tensor.
struct SkippedValue {
    std::string key;
    std::string typeName; // "int", "NoneType", "str", ...
};

struct RunResult {
    std::vector<Capture> captures; // in the order the forward produced them
    std::vector<Capture> outputs;  // the model's own output: "output" or "output[0]", ...
    std::vector<SkippedValue> skipped;
    std::vector<std::string> notExecuted; // selected modules that did not run in this forward
    // Selected modules whose capture is incomplete: started in a forked task (torch.jit.fork) that
    // was still running when the forward returned. Never reported as "not executed".
    std::vector<std::string> incomplete;
};

} // namespace layerscope
