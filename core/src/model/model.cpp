// Model: what every format shares (the tree, the signature, the checks); the runtime behind it is
// chosen by the file when it loads.

#include "layerscope/model.h"

#include "layerscope/error.h"
#include "model/modelfile_p.h"
#include "model/modelimpl_p.h"
#include "model/namesuggest_p.h"

#include <sstream>

namespace layerscope {

int Model::Impl::addModule(ModuleInfo info)
{
    const int index = static_cast<int>(modules.size());
    if (!info.name.empty()) {
        const auto dot = info.name.rfind('.');
        const std::string parentName = dot == std::string::npos ? std::string() : info.name.substr(0, dot);
        const auto parent = moduleIndex.find(parentName);
        info.parent = parent != moduleIndex.end() ? parent->second : 0;
        info.depth = modules[std::size_t(info.parent)].depth + 1;
        modules[std::size_t(info.parent)].children.push_back(index);
    }
    moduleIndex.emplace(info.name, index);
    moduleNames.push_back(info.name);
    modules.push_back(std::move(info));
    return index;
}

namespace detail {

int moduleIndexOrThrow(const Model& model, const std::string& name)
{
    const int index = model.findModule(name);
    if (index >= 0)
        return index;
    std::string message = "no module named '" + name + "' in " + model.path();
    const auto suggestions = model.closestModuleNames(name);
    for (std::size_t i = 0; i < suggestions.size(); ++i)
        message += (i ? ", '" : "; did you mean '") + suggestions[i] + "'";
    throw Error(message + (suggestions.empty() ? "" : "?"));
}

} // namespace detail

Model::Model(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl))
{
}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

Model Model::load(const std::string& path, const LoadOptions& options)
{
    // A missing file or a folder for either format; for TorchScript, everything before LibTorch runs its code.
    detail::checkModelFile(path, options.trustModel);
    return Model(detail::looksLikeOnnx(path) ? detail::loadOnnx(path, options)
                                             : detail::loadTorchScript(path, options));
}

const std::string& Model::path() const { return impl_->path; }
const std::vector<ModuleInfo>& Model::modules() const { return impl_->modules; }
const std::vector<ArgumentInfo>& Model::forwardArguments() const { return impl_->arguments; }
DType Model::parameterDType() const { return impl_->parameterDType; }
int Model::imageChannelsHint() const { return impl_->imageChannels; }
bool Model::hasGradients() const { return impl_->hasGradients(); }
bool Model::forwardsRunSideBySide() const { return impl_->forwardsRunSideBySide(); }
const std::vector<std::string>& Model::notes() const { return impl_->notes; }
std::string Model::formatName() const { return impl_->formatName(); }

int Model::findModule(const std::string& name) const
{
    auto it = impl_->moduleIndex.find(name);
    return it == impl_->moduleIndex.end() ? -1 : it->second;
}

int Model::requiredArgumentCount() const
{
    int required = 0;
    for (const auto& argument : impl_->arguments)
        required += argument.hasDefault ? 0 : 1;
    return required;
}

std::string Model::signature() const
{
    std::string text = "forward(";
    for (std::size_t i = 0; i < impl_->arguments.size(); ++i) {
        const auto& argument = impl_->arguments[i];
        text += (i ? ", " : "") + argument.name + ": " + argument.type + (argument.hasDefault ? " = ..." : "");
    }
    return text + ") -> " + impl_->returnType;
}

void Model::checkInputCount(std::size_t given) const
{
    const int required = requiredArgumentCount();
    const auto accepted = impl_->arguments.size();
    if (given >= std::size_t(required) && given <= accepted)
        return;
    std::ostringstream message;
    message << impl_->path << ": the model takes " << (std::size_t(required) == accepted ? "" : "at least ") << required
            << (required == 1 ? " input" : " inputs") << ", " << signature() << ", but " << given
            << (given == 1 ? " was" : " were") << " given";
    throw Error(message.str());
}

std::vector<std::string> Model::closestModuleNames(const std::string& name, std::size_t count) const
{
    return detail::closestNames(name, impl_->moduleNames, count);
}

RunResult Model::run(const std::vector<Tensor>& inputs, const CaptureRequest& request, const JobControl* job) const
{
    if (job)
        job->cancel.throwIfCancelled();
    return impl_->run(*this, inputs, request, job);
}

Gradients Model::gradients(const std::vector<Tensor>& inputs, const GradientRequest& request,
                           const JobControl* job) const
{
    if (job)
        job->cancel.throwIfCancelled();
    if (!impl_->hasGradients())
        throw Error(impl_->path + ": " + impl_->formatName()
                    + " models run without gradients here; Grad-CAM and the input methods need a TorchScript "
                      "model (EigenCAM needs none)");
    checkInputCount(inputs.size());
    return impl_->gradients(*this, inputs, request, job);
}

} // namespace layerscope
