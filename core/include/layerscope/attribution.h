#pragma once
// Why did the model predict this? Class activation maps and input gradients on the compiled model,
// from Model::gradients (no hooks). The formulas are pytorch-grad-cam's; see README "cam".

#include "layerscope/job.h"
#include "layerscope/model.h"
#include "layerscope/tensor.h"

#include <string>
#include <vector>

namespace layerscope {

enum class AttributionMethod {
    GradCam,
    GradCamPlusPlus,
    HiResCam,
    LayerCam,
    EigenCam,
    Saliency,
    SmoothGrad,
    IntegratedGradients
};

// Where integrated gradients start: zeros (the mean image, for normalised inputs), or the input
// blurred with a Gaussian of sigma max(H, W) / 16.
enum class Baseline { Zeros, Blur };

// "gradcam", "gradcampp", "hirescam", "layercam", "eigencam", "saliency", "smoothgrad",
// "integrated-gradients"
const std::vector<std::string>& attributionMethodNames();
std::string attributionMethodName(AttributionMethod method);
AttributionMethod attributionMethodFromName(const std::string& name); // throws Error listing the names
bool isInputAttribution(AttributionMethod method);                    // at the input's resolution, no target module
const char* baselineName(Baseline baseline);                          // "zeros", "blur"
Baseline baselineFromName(const std::string& name);                   // throws Error

// Where the patches sit in [N, T, D] tokens: after `leading` other tokens (a class token, a
// distillation token), as a height x width grid row by row. -1 and 0 x 0: detected.
struct TokenGrid {
    int leading = -1;
    std::int64_t height = 0, width = 0;
};

struct AttributionRequest {
    AttributionMethod method = AttributionMethod::GradCam;
    std::string layer;                 // capture key of the target module (CAM methods)
    std::vector<std::int64_t> classes; // one per sample, -1 or empty: the predicted class

    // smoothgrad: the mean saliency of `samples` noisy copies, noise sigma = noise x (max - min) of
    // each sample; seeded, so the same request gives the same maps.
    int samples = 25;
    double noise = 0.15;
    std::uint64_t seed = 0;
    // integrated-gradients: (x - baseline) x the mean gradient at baseline + k/steps (x - baseline),
    // k = 1..steps (right Riemann sum), summed over channels.
    int steps = 50;
    Baseline baseline = Baseline::Zeros;
    // A token output [N, T, D]: how it is laid out (see tokensAsGrid).
    TokenGrid tokens;
};

struct Attribution {
    Tensor cam;                          // [N, h, w] float32, before upsampling and normalisation
    std::vector<Tensor> inputMaps;       // input methods: one [N, H, W] per forward argument (cam is the first)
    std::vector<std::int64_t> classes;   // the class each map explains
    std::vector<float> scores;           // its logit
    std::vector<float> convergenceDelta; // integrated gradients: sum(IG) - (S(x) - S(baseline)), per sample
    std::string note;                    // what was assumed (a token grid) or done (an in-place tap)
};

// One forward and one backward for the CAM methods and saliency; smoothgrad takes 1 + samples,
// integrated-gradients steps + 1. `job` stops it between them and hears "gradient passes".
Attribution explain(const Model& model, const std::vector<Tensor>& inputs, const AttributionRequest& request,
                    const JobControl* job = nullptr);

// The formulas on A and g = dS/dA, both [N, C, H, W] (any floating dtype): [N, H, W] float32.
Tensor classActivationMap(AttributionMethod method, const Tensor& activation, const Tensor& gradient);

// The capture a class activation map is usually taken of: the last one in forward order whose
// output is [N, C, H, W] with H x W > 1 (the last convolutional stage, before global pooling).
// "" when the run has none (a transformer: choose its last block's input norm).
std::string defaultAttributionTarget(const RunResult& run);

// [N, T, D] token outputs as [N, D, h, w]. Detected: a class token and h*w = T-1 patches, or h*w = T
// patches, square. `layout` overrides either or both (the tokens after the grid are ignored). Throws
// Error when nothing fits. `note` says what was assumed.
Tensor tokensAsGrid(const Tensor& tokens, std::string* note, const TokenGrid& layout = {});

} // namespace layerscope
