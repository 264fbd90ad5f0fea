// The class-activation formulas, as pytorch-grad-cam defines them, on plain arrays (no LibTorch).

#include "layerscope/attribution.h"
#include "layerscope/error.h"
#include "layerscope/statistics.h"

#include <opencv2/core.hpp>

#include <algorithm>
#include <cmath>

namespace layerscope {

namespace {

// The first principal component's projection of one sample's [C, H*W] activation (positions as
// rows, centred per channel), signed so that its largest magnitude is positive (SVD's sign is free).
std::vector<double> firstComponentProjection(const double* a, std::int64_t channels, std::int64_t positions)
{
    cv::Mat rows(int(positions), int(channels), CV_64F);
    for (std::int64_t c = 0; c < channels; ++c)
        for (std::int64_t p = 0; p < positions; ++p)
            rows.at<double>(int(p), int(c)) = std::isfinite(a[c * positions + p]) ? a[c * positions + p] : 0.0;
    cv::Mat mean;
    cv::reduce(rows, mean, 0, cv::REDUCE_AVG);
    rows -= cv::repeat(mean, rows.rows, 1);
    cv::Mat w, u, vt;
    cv::SVD::compute(rows, w, u, vt);
    cv::Mat projection = rows * vt.row(0).t();
    std::vector<double> out(projection.begin<double>(), projection.end<double>());
    const auto largest
        = std::max_element(out.begin(), out.end(), [](double x, double y) { return std::abs(x) < std::abs(y); });
    if (largest != out.end() && *largest < 0)
        for (double& v : out)
            v = -v;
    return out;
}

} // namespace

bool isInputAttribution(AttributionMethod method)
{
    return method == AttributionMethod::Saliency || method == AttributionMethod::SmoothGrad
        || method == AttributionMethod::IntegratedGradients;
}

const char* baselineName(Baseline baseline) { return baseline == Baseline::Blur ? "blur" : "zeros"; }

Baseline baselineFromName(const std::string& name)
{
    if (name == "zeros")
        return Baseline::Zeros;
    if (name == "blur")
        return Baseline::Blur;
    throw Error("unknown baseline '" + name + "': use zeros or blur");
}

Tensor classActivationMap(AttributionMethod method, const Tensor& activation, const Tensor& gradient)
{
    if (activation.shape.size() != 4)
        throw Error("a class activation map needs a [N, C, H, W] activation, not " + shapeToString(activation.shape));
    const std::int64_t n = activation.shape[0], channels = activation.shape[1];
    const std::int64_t positions = activation.shape[2] * activation.shape[3];
    const std::vector<double> a = valuesAsDoubles(activation);
    const std::vector<double> g
        = method == AttributionMethod::EigenCam ? std::vector<double>() : valuesAsDoubles(gradient);
    Tensor cam = Tensor::zeros({n, activation.shape[2], activation.shape[3]}, DType::Float32);
    float* out = static_cast<float*>(cam.mutableData());
    for (std::int64_t i = 0; i < n; ++i) {
        std::vector<double> map(std::size_t(positions), 0.0);
        const double* as = a.data() + i * channels * positions;
        const double* gs = g.empty() ? nullptr : g.data() + i * channels * positions;
        if (method == AttributionMethod::EigenCam) {
            map = firstComponentProjection(as, channels, positions);
        } else {
            for (std::int64_t c = 0; c < channels; ++c) {
                const double* ac = as + c * positions;
                const double* gc = gs + c * positions;
                double weight = 0; // a channel's weight (gradcam, gradcampp)
                if (method == AttributionMethod::GradCam) {
                    for (std::int64_t p = 0; p < positions; ++p)
                        weight += gc[p];
                    weight /= double(positions);
                } else if (method == AttributionMethod::GradCamPlusPlus) {
                    double sumA = 0;
                    for (std::int64_t p = 0; p < positions; ++p)
                        sumA += ac[p];
                    for (std::int64_t p = 0; p < positions; ++p) {
                        const double g2 = gc[p] * gc[p], g3 = g2 * gc[p];
                        const double alpha = gc[p] != 0 ? g2 / (2 * g2 + sumA * g3 + 1e-7) : 0.0;
                        weight += std::max(gc[p], 0.0) * alpha;
                    }
                }
                for (std::int64_t p = 0; p < positions; ++p) {
                    switch (method) {
                    case AttributionMethod::HiResCam: map[std::size_t(p)] += gc[p] * ac[p]; break;
                    case AttributionMethod::LayerCam: map[std::size_t(p)] += std::max(gc[p], 0.0) * ac[p]; break;
                    default: map[std::size_t(p)] += weight * ac[p]; break;
                    }
                }
            }
        }
        for (std::int64_t p = 0; p < positions; ++p)
            out[i * positions + p] = float(std::max(map[std::size_t(p)], 0.0)); // ReLU, as for every method
    }
    return cam;
}

std::string defaultAttributionTarget(const RunResult& run)
{
    for (auto capture = run.captures.rbegin(); capture != run.captures.rend(); ++capture) {
        const auto& s = capture->tensor.shape;
        if (!capture->isInput && s.size() == 4 && s[2] * s[3] > 1 && capture->key.find('[') == std::string::npos)
            return capture->key;
    }
    return {};
}

Tensor tokensAsGrid(const Tensor& tokens, std::string* note, const TokenGrid& layout)
{
    if (tokens.shape.size() != 3)
        throw Error("expected [N, T, D] tokens, not " + shapeToString(tokens.shape));
    const std::int64_t n = tokens.shape[0], t = tokens.shape[1], d = tokens.shape[2];
    auto squareSide = [](std::int64_t count) {
        const auto side = std::int64_t(std::llround(std::sqrt(double(count))));
        return side > 0 && side * side == count ? side : std::int64_t(0);
    };
    std::int64_t first = layout.leading, height = layout.height, width = layout.width;
    if (height > 0 && width > 0) {
        if (first < 0)
            first = t - height * width == 1 ? 1 : 0;
    } else {
        if (first < 0) {
            first = squareSide(t - 1) ? 1 : 0;
            if (!squareSide(t - first))
                first = -1;
        }
        height = width = first >= 0 ? squareSide(t - first) : 0;
    }
    if (first < 0 || height <= 0 || first + height * width > t)
        throw Error("cannot lay " + std::to_string(t) + " tokens out as a grid of patches"
                    + (layout.height > 0 ? " of " + std::to_string(layout.height) + "x" + std::to_string(layout.width)
                                         : std::string(" (square, with or without a class token)"))
                    + (layout.leading >= 0 ? " after " + std::to_string(layout.leading) + " leading tokens" : "") + ": "
                    + shapeToString(tokens.shape) + "; give --leading-tokens and --token-grid");
    if (note) {
        const std::string grid = std::to_string(height) + "x" + std::to_string(width) + " grid of patches";
        *note = first == 0 ? "a " + grid + ", no class token"
            : first == 1   ? "a class token first, then a " + grid
                           : std::to_string(first) + " leading tokens, then a " + grid;
        if (first + height * width < t)
            *note += " (the last " + std::to_string(t - first - height * width) + " tokens left out)";
    }
    const Tensor values = convertFloating(tokens, DType::Float32);
    Tensor grid = Tensor::zeros({n, d, height, width}, DType::Float32);
    const float* in = values.values<float>();
    float* out = static_cast<float*>(grid.mutableData());
    const std::int64_t cells = height * width;
    for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t p = 0; p < cells; ++p)
            for (std::int64_t c = 0; c < d; ++c)
                out[(i * d + c) * cells + p] = in[(i * t + first + p) * d + c];
    return grid;
}

} // namespace layerscope
