#pragma once
// Why did the model predict this? Class activation maps and input gradients on the compiled model,
// from Model::gradients (no hooks). The formulas are pytorch-grad-cam's; see README "cam".

#include "layerscope/job.h"
#include "layerscope/model.h"
#include "layerscope/tensor.h"

#include <string>
#include <vector>

namespace layerscope {

enum class AttributionMethod { GradCam, GradCamPlusPlus, HiResCam, LayerCam, EigenCam, Saliency };

// "gradcam", "gradcampp", "hirescam", "layercam", "eigencam", "saliency"
const std::vector<std::string>& attributionMethodNames();
std::string attributionMethodName(AttributionMethod method);
AttributionMethod attributionMethodFromName(const std::string& name); // throws Error listing the names
bool isInputAttribution(AttributionMethod method);                    // at the input's resolution, no target module

struct AttributionRequest {
    AttributionMethod method = AttributionMethod::GradCam;
    std::string layer;                 // capture key of the target module (CAM methods)
    std::vector<std::int64_t> classes; // one per sample, -1 or empty: the predicted class
};

struct Attribution {
    Tensor cam;                        // [N, h, w] float32, before upsampling and normalisation
    std::vector<Tensor> inputMaps;     // saliency: one [N, H, W] per forward argument (cam is the first)
    std::vector<std::int64_t> classes; // the class each map explains
    std::vector<float> scores;         // its logit
    std::string note;                  // what was assumed (a token grid) or done (an in-place tap)
};

// One forward and one backward (none for eigencam's gradient, which it does not use).
Attribution explain(const Model& model, const std::vector<Tensor>& inputs, const AttributionRequest& request,
                    const JobControl* job = nullptr);

// The formulas on A and g = dS/dA, both [N, C, H, W] (any floating dtype): [N, H, W] float32.
Tensor classActivationMap(AttributionMethod method, const Tensor& activation, const Tensor& gradient);

// [N, T, D] token outputs as [N, D, h, w]: a class token and h*w = T-1 patches, or h*w = T patches.
// Throws Error when neither is square. `note` says which was assumed.
Tensor tokensAsGrid(const Tensor& tokens, std::string* note);

} // namespace layerscope
