// Saliency, SmoothGrad and integrated gradients: Model::gradients on (changed copies of) the
// inputs, every floating-point argument at once. The class of each sample is fixed by the first
// pass on the unchanged inputs, so every pass explains the same class.

#include "inputmaps_p.h"

#include "layerscope/error.h"
#include "layerscope/statistics.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

namespace layerscope::detail {

namespace {

std::uint64_t splitmix64(std::uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

bool attributable(const Tensor& input) { return input.dtype == DType::Float32 || input.dtype == DType::Float64; }

// An input's values as doubles and back in its own dtype (the model's parameters' dtype).
Tensor fromDoubles(const std::vector<double>& values, const Tensor& like)
{
    Tensor out = Tensor::zeros(like.shape, like.dtype);
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (like.dtype == DType::Float32)
            static_cast<float*>(out.mutableData())[i] = float(values[i]);
        else
            static_cast<double*>(out.mutableData())[i] = values[i];
    }
    return out;
}

// [N, C, H, W] (or [N, H, W], one channel) as N x C planes of H x W.
struct Planes {
    std::int64_t n = 0, channels = 1, h = 0, w = 0;
};

Planes planesOf(const Tensor& input, AttributionMethod method)
{
    const auto& s = input.shape;
    if (s.size() != 4 && s.size() != 3)
        throw Error(attributionMethodName(method) + " needs image inputs ([N, C, H, W]), not " + shapeToString(s));
    return {s[0], s.size() == 4 ? s[1] : 1, s[s.size() - 2], s[s.size() - 1]};
}

// Per-element values to a [N, H, W] float32 map: the largest |v| over channels, or their sum.
Tensor channelMap(const std::vector<double>& values, const Planes& p, bool sum)
{
    Tensor map = Tensor::zeros({p.n, p.h, p.w}, DType::Float32);
    float* out = static_cast<float*>(map.mutableData());
    const std::int64_t area = p.h * p.w;
    for (std::int64_t i = 0; i < p.n; ++i)
        for (std::int64_t q = 0; q < area; ++q) {
            double cell = 0;
            for (std::int64_t c = 0; c < p.channels; ++c) {
                const double v = values[std::size_t((i * p.channels + c) * area + q)];
                cell = sum ? cell + v : std::max(cell, std::abs(v));
            }
            out[i * area + q] = float(cell);
        }
    return map;
}

struct Pass {
    std::vector<std::vector<double>> gradients; // per argument, empty where not attributable
    std::vector<float> scores;
};

class Passes {
public:
    Passes(const Model& model, const AttributionRequest& request, const JobControl* job, int total)
        : model_(model)
        , job_(job)
        , total_(total)
    {
        wanted_.classes = request.classes;
        wanted_.inputGradients = true;
    }

    // The first pass fixes the classes for the others.
    Pass run(const std::vector<Tensor>& inputs)
    {
        if (job_)
            job_->cancel.throwIfCancelled();
        const Gradients g = model_.gradients(inputs, wanted_, job_);
        if (done_ == 0) // the classes as asked for ("top": -1) resolved on the first pass
            wanted_.classes = classes_ = g.classes, firstScores_ = g.scores;
        Pass pass;
        pass.scores = g.scores;
        for (std::size_t a = 0; a < inputs.size(); ++a)
            pass.gradients.push_back(a < g.inputGradients.size() && !g.inputGradients[a].shape.empty()
                                         ? valuesAsDoubles(g.inputGradients[a])
                                         : std::vector<double>());
        ++done_;
        if (job_)
            job_->report(done_, total_, "gradient passes");
        return pass;
    }
    const std::vector<std::int64_t>& classes() const { return classes_; }
    const std::vector<float>& firstScores() const { return firstScores_; }

private:
    const Model& model_;
    const JobControl* job_;
    GradientRequest wanted_;
    std::vector<std::int64_t> classes_;
    std::vector<float> firstScores_;
    int total_, done_ = 0;
};

std::vector<Planes> planesOfAll(const std::vector<Tensor>& inputs, AttributionMethod method)
{
    std::vector<Planes> planes;
    bool any = false;
    for (const Tensor& input : inputs) {
        planes.push_back(attributable(input) ? planesOf(input, method) : Planes {});
        any = any || attributable(input);
    }
    if (!any)
        throw Error(attributionMethodName(method) + " needs a floating-point input");
    return planes;
}

Attribution saliency(const Model& model, const std::vector<Tensor>& inputs, const AttributionRequest& request,
                     const JobControl* job)
{
    Passes passes(model, request, job, 1);
    const Pass pass = passes.run(inputs); // first: a model that gives no [N, classes] says so
    const std::vector<Planes> planes = planesOfAll(inputs, request.method);
    Attribution result;
    for (std::size_t a = 0; a < inputs.size(); ++a)
        result.inputMaps.push_back(pass.gradients[a].empty() ? Tensor()
                                                             : channelMap(pass.gradients[a], planes[a], false));
    result.classes = passes.classes(), result.scores = passes.firstScores();
    return result;
}

Attribution smoothGrad(const Model& model, const std::vector<Tensor>& inputs, const AttributionRequest& request,
                       const JobControl* job)
{
    if (request.samples < 1 || !(request.noise >= 0))
        throw Error("smoothgrad needs --samples >= 1 and --noise >= 0");
    Passes passes(model, request, job, request.samples + 1);
    passes.run(inputs); // the classes, and their scores on the inputs themselves
    const std::vector<Planes> planes = planesOfAll(inputs, request.method);
    // Each input's values and each sample's noise sigma, the same for every draw.
    std::vector<std::vector<double>> values(inputs.size()), sigmas(inputs.size()), sums(inputs.size());
    for (std::size_t a = 0; a < inputs.size(); ++a) {
        if (!attributable(inputs[a]))
            continue;
        values[a] = valuesAsDoubles(inputs[a]);
        const std::size_t per = values[a].size() / std::size_t(std::max<std::int64_t>(planes[a].n, 1));
        for (std::int64_t i = 0; i < planes[a].n; ++i) {
            const auto first = values[a].begin() + i * per;
            const auto [low, high] = std::minmax_element(first, first + per);
            sigmas[a].push_back(request.noise * (*high - *low));
        }
    }
    for (int draw = 0; draw < request.samples; ++draw) {
        std::vector<Tensor> noisy = inputs;
        for (std::size_t a = 0; a < inputs.size(); ++a) {
            if (values[a].empty())
                continue;
            std::vector<double> v = values[a];
            const std::size_t per = v.size() / sigmas[a].size();
            for (std::size_t e = 0; e < v.size(); ++e)
                v[e] += sigmas[a][e / per] * standardNormal(request.seed, std::uint64_t(draw), a, e);
            noisy[a] = fromDoubles(v, inputs[a]);
        }
        const Pass pass = passes.run(noisy);
        for (std::size_t a = 0; a < inputs.size(); ++a) {
            if (pass.gradients[a].empty())
                continue;
            const Tensor map = channelMap(pass.gradients[a], planes[a], false);
            const std::vector<double> values = valuesAsDoubles(map);
            sums[a].resize(values.size(), 0.0);
            for (std::size_t e = 0; e < values.size(); ++e)
                sums[a][e] += values[e];
        }
    }
    Attribution result;
    for (std::size_t a = 0; a < inputs.size(); ++a) {
        if (sums[a].empty()) {
            result.inputMaps.emplace_back();
            continue;
        }
        for (double& v : sums[a])
            v /= request.samples;
        Tensor map = Tensor::zeros({planes[a].n, planes[a].h, planes[a].w}, DType::Float32);
        std::transform(sums[a].begin(), sums[a].end(), static_cast<float*>(map.mutableData()),
                       [](double v) { return float(v); });
        result.inputMaps.push_back(map);
    }
    result.classes = passes.classes(), result.scores = passes.firstScores();
    return result;
}

// Each H x W plane through OpenCV's Gaussian (sigma max(H, W) / 16, reflected borders).
std::vector<double> blurred(const Tensor& input, const Planes& p)
{
    const Tensor values = convertFloating(input, DType::Float32);
    std::vector<double> out(std::size_t(values.numel()));
    const double sigma = double(std::max(p.h, p.w)) / 16.0;
    for (std::int64_t plane = 0; plane < p.n * p.channels; ++plane) {
        const float* first = values.values<float>() + plane * p.h * p.w;
        const cv::Mat in(static_cast<int>(p.h), static_cast<int>(p.w), CV_32F, const_cast<float*>(first));
        cv::Mat blurredPlane;
        cv::GaussianBlur(in, blurredPlane, cv::Size(0, 0), sigma);
        std::copy(blurredPlane.begin<float>(), blurredPlane.end<float>(), out.begin() + plane * p.h * p.w);
    }
    return out;
}

Attribution integratedGradients(const Model& model, const std::vector<Tensor>& inputs,
                                const AttributionRequest& request, const JobControl* job)
{
    if (request.steps < 1)
        throw Error("integrated-gradients needs --steps >= 1");
    const int m = request.steps;
    Passes passes(model, request, job, m + 1);
    const Pass atInputs = passes.run(inputs); // k = m: the inputs themselves fix the classes
    const std::vector<Planes> planes = planesOfAll(inputs, request.method);
    std::vector<std::vector<double>> x(inputs.size()), base(inputs.size()), meanGradient(inputs.size());
    std::vector<Tensor> baselineInputs = inputs;
    for (std::size_t a = 0; a < inputs.size(); ++a) {
        if (!attributable(inputs[a]))
            continue;
        x[a] = valuesAsDoubles(inputs[a]);
        base[a] = request.baseline == Baseline::Blur ? blurred(inputs[a], planes[a]) : std::vector<double>(x[a].size());
        meanGradient[a].assign(x[a].size(), 0.0);
        baselineInputs[a] = fromDoubles(base[a], inputs[a]);
    }
    const std::vector<float> atInput = atInputs.scores;
    for (int k = m; k >= 1; --k) {
        std::vector<Tensor> path = inputs;
        for (std::size_t a = 0; a < inputs.size(); ++a) {
            if (x[a].empty() || k == m)
                continue;
            std::vector<double> v(x[a].size());
            for (std::size_t e = 0; e < v.size(); ++e)
                v[e] = base[a][e] + double(k) / m * (x[a][e] - base[a][e]);
            path[a] = fromDoubles(v, inputs[a]);
        }
        const Pass pass = k == m ? atInputs : passes.run(path);
        for (std::size_t a = 0; a < inputs.size(); ++a)
            for (std::size_t e = 0; e < pass.gradients[a].size(); ++e)
                meanGradient[a][e] += pass.gradients[a][e] / m;
    }
    const std::vector<float> atBaseline = passes.run(baselineInputs).scores;

    Attribution result;
    result.convergenceDelta.assign(atInput.size(), 0.0f);
    for (std::size_t a = 0; a < inputs.size(); ++a) {
        if (x[a].empty()) {
            result.inputMaps.emplace_back();
            continue;
        }
        std::vector<double> attribution(x[a].size());
        for (std::size_t e = 0; e < attribution.size(); ++e)
            attribution[e] = (x[a][e] - base[a][e]) * meanGradient[a][e];
        result.inputMaps.push_back(channelMap(attribution, planes[a], true));
        const std::size_t per = attribution.size() / atInput.size();
        for (std::size_t i = 0; i < atInput.size(); ++i) {
            double total = 0;
            for (std::size_t e = i * per; e < (i + 1) * per; ++e)
                total += attribution[e];
            result.convergenceDelta[i] += float(total);
        }
    }
    for (std::size_t i = 0; i < atInput.size(); ++i)
        result.convergenceDelta[i] -= atInput[i] - atBaseline[i];
    result.classes = passes.classes(), result.scores = atInput;
    return result;
}

} // namespace

double standardNormal(std::uint64_t seed, std::uint64_t draw, std::uint64_t argument, std::uint64_t index)
{
    const std::uint64_t key = splitmix64(splitmix64(seed) ^ ((draw << 8) | argument));
    const std::uint64_t a = splitmix64(key + 2 * index), b = splitmix64(key + 2 * index + 1);
    const double u1 = (double(a >> 11) + 1.0) * 0x1p-53; // (0, 1]: the logarithm stays finite
    const double u2 = double(b >> 11) * 0x1p-53;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

Attribution attributeInputs(const Model& model, const std::vector<Tensor>& inputs, const AttributionRequest& request,
                            const JobControl* job)
{
    Attribution result;
    switch (request.method) {
    case AttributionMethod::SmoothGrad: result = smoothGrad(model, inputs, request, job); break;
    case AttributionMethod::IntegratedGradients: result = integratedGradients(model, inputs, request, job); break;
    default: result = saliency(model, inputs, request, job); break;
    }
    if (result.inputMaps.empty() || result.inputMaps.front().shape.empty())
        throw Error(attributionMethodName(request.method) + " needs a floating-point first input");
    result.cam = result.inputMaps.front();
    return result;
}

} // namespace layerscope::detail
