#include "layerscope/capture.h"

#include <algorithm>

namespace layerscope {

void addCaptureKey(const std::string& key, CaptureRequest& request)
{
    if (key == "output" || key.rfind("output[", 0) == 0)
        return; // the model's own output is always recorded
    const std::size_t end = key.find_first_of(":>[");
    const std::string module = key.substr(0, end);
    const bool input = end != std::string::npos && key.compare(end, 3, ">in") == 0;
    auto& list = input ? request.inputsOf : request.outputsOf;
    if (std::find(list.begin(), list.end(), module) == list.end())
        list.push_back(module);
    if (input && std::find(request.outputsOf.begin(), request.outputsOf.end(), module) == request.outputsOf.end())
        request.outputsOf.push_back(module); // inputs are recorded for selected modules
}

} // namespace layerscope
