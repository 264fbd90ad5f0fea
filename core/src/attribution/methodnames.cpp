// The attribution methods by their command-line names (cam --method, layerscope --explain): no
// dependencies, so the CLI's option checks (and fuzz_cli) link it alone.

#include "layerscope/attribution.h"
#include "layerscope/error.h"

namespace layerscope {

namespace {

struct Method {
    AttributionMethod method;
    const char* name;
};
constexpr Method kMethods[]
    = {{AttributionMethod::GradCam, "gradcam"},       {AttributionMethod::GradCamPlusPlus, "gradcampp"},
       {AttributionMethod::HiResCam, "hirescam"},     {AttributionMethod::LayerCam, "layercam"},
       {AttributionMethod::EigenCam, "eigencam"},     {AttributionMethod::Saliency, "saliency"},
       {AttributionMethod::SmoothGrad, "smoothgrad"}, {AttributionMethod::IntegratedGradients, "integrated-gradients"}};

} // namespace

const std::vector<std::string>& attributionMethodNames()
{
    static const std::vector<std::string> names = [] {
        std::vector<std::string> all;
        for (const auto& m : kMethods)
            all.push_back(m.name);
        return all;
    }();
    return names;
}

std::string attributionMethodName(AttributionMethod method)
{
    for (const auto& m : kMethods)
        if (m.method == method)
            return m.name;
    return "?";
}

AttributionMethod attributionMethodFromName(const std::string& name)
{
    for (const auto& m : kMethods)
        if (name == m.name)
            return m.method;
    std::string known;
    for (const auto& m : kMethods)
        known += (known.empty() ? "" : ", ") + std::string(m.name);
    throw Error("unknown attribution method '" + name + "': use one of " + known);
}

} // namespace layerscope
