// layerscope-cli: the engine from the command line. `modules` lists a model's module tree,
// `extract` runs a forward on .npy inputs and writes the chosen captures to an .npz file.

#include "layerscope/allocator.h"
#include "layerscope/error.h"
#include "layerscope/model.h"
#include "layerscope/npy.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

using namespace layerscope;

namespace {

std::string withThousands(std::int64_t value)
{
    std::string digits = std::to_string(value), out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i && (digits.size() - i) % 3 == 0)
            out += ',';
        out += digits[i];
    }
    return out;
}

int listModules(const std::string& modelPath)
{
    const Model model = Model::load(modelPath);
    std::cout << modelPath << ": " << model.signature() << "\n";
    std::size_t nameWidth = 7, typeWidth = 4; // "(model)", "type"
    for (const auto& m : model.modules()) {
        nameWidth = std::max(nameWidth, 2 * static_cast<std::size_t>(std::max(0, m.depth - 1)) + m.name.size());
        typeWidth = std::max(typeWidth, m.typeName.size());
    }
    std::printf("%-*s  %-*s  %12s\n", int(nameWidth), "module", int(typeWidth), "type", "parameters");
    for (const auto& m : model.modules()) {
        const std::string name = m.name.empty() ? "(model)" : std::string(2 * (m.depth - 1), ' ') + m.name;
        std::printf("%-*s  %-*s  %12s\n", int(nameWidth), name.c_str(), int(typeWidth), m.typeName.c_str(),
                    withThousands(m.totalParameters).c_str());
    }
    if (model.modules().size() == 1)
        std::cerr << "note: " << modelPath << " has no submodules (frozen with torch.jit.freeze, or inlined): "
                  << "only its output can be captured; save the model before freezing to see its layers\n";
    return 0;
}

std::string humanSize(std::size_t bytes)
{
    char text[32];
    if (bytes < 1024 * 1024)
        std::snprintf(text, sizeof text, "%.1f KiB", bytes / 1024.0);
    else
        std::snprintf(text, sizeof text, "%.1f MiB", bytes / (1024.0 * 1024.0));
    return text;
}

struct ExtractOptions {
    std::string model;
    std::vector<std::string> inputs;
    std::vector<std::string> layers;
    bool all = false;
    bool withInputs = false;
    std::string out;
};

int extract(const ExtractOptions& options)
{
    const std::string extension = options.out.size() >= 4 ? options.out.substr(options.out.size() - 4) : "";
    if (extension != ".npz")
        throw Error(options.out + ": unsupported output format (this version writes .npz)");
    checkWritable(options.out); // before the forward, not after it

    const Model model = Model::load(options.model);
    CaptureRequest request;
    if (options.all) {
        for (const auto& m : model.modules()) {
            if (!m.name.empty() && m.hasForward)
                request.outputsOf.push_back(m.name);
        }
        if (request.outputsOf.empty())
            std::cerr << "note: " << options.model << " has no submodules (frozen or inlined): only 'output' is saved\n";
    } else {
        request.outputsOf = options.layers;
    }
    if (options.withInputs)
        request.inputsOf = request.outputsOf;

    std::vector<Tensor> inputs;
    for (const auto& path : options.inputs) {
        Tensor input = readNpy(path);
        const bool floating = input.dtype == DType::Float32 || input.dtype == DType::Float64;
        if (floating && input.dtype != model.parameterDType()) {
            std::cerr << "note: " << path << " is " << dtypeName(input.dtype) << "; converted to "
                      << dtypeName(model.parameterDType()) << " like the model's parameters\n";
            input = convertFloating(input, model.parameterDType());
        }
        inputs.push_back(std::move(input));
    }

    const RunResult result = model.run(inputs, request);

    std::vector<NamedTensor> arrays;
    std::size_t bytes = 0;
    for (const auto* list : {&result.captures, &result.outputs}) {
        for (const auto& capture : *list) {
            arrays.push_back({capture.key, capture.tensor});
            bytes += capture.tensor.nbytes();
        }
    }
    writeNpz(options.out, arrays);

    for (const auto& name : result.notExecuted)
        std::cerr << "not executed: " << name << " did not run in this forward\n";
    for (const auto& skipped : result.skipped)
        std::cerr << "skipped: " << skipped.key << " is " << skipped.typeName << ", not a tensor\n";
    std::cerr << "wrote " << arrays.size() << " arrays (" << humanSize(bytes) << ") to " << options.out << "\n";
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    keepFreedMemoryInProcess();

    CLI::App app{"LayerScope: list a TorchScript model's modules and capture their activations."};
    app.require_subcommand(1);

    std::string modulesModel;
    auto* modules = app.add_subcommand("modules", "Print the module tree: qualified name, type, parameter count.");
    modules->add_option("MODEL", modulesModel, "TorchScript file (torch.jit.script or torch.jit.trace, then save)")
        ->required();

    ExtractOptions options;
    auto* extractCommand = app.add_subcommand(
        "extract", "Run the model on .npy inputs and write the chosen modules' activations to an .npz file.");
    extractCommand->add_option("MODEL", options.model, "TorchScript file")->required();
    extractCommand->add_option("--input,-i", options.inputs, "An .npy tensor per forward argument, in order")
        ->required();
    extractCommand->get_option("--input")->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    auto* layer = extractCommand->add_option("--layer,-l", options.layers,
                                             "Qualified module name as named_modules() gives it (repeatable)");
    auto* all = extractCommand->add_flag("--all", options.all, "Every module except the root");
    layer->excludes(all);
    extractCommand->add_flag("--with-inputs", options.withInputs, "Also save each chosen module's inputs ('name>in')");
    extractCommand->add_option("--out,-o", options.out, "Output .npz; the model's output is always saved as 'output'")
        ->required();

    CLI11_PARSE(app, argc, argv);

    try {
        if (*modules)
            return listModules(modulesModel);
        if (options.layers.empty() && !options.all) {
            std::cerr << "layerscope-cli: error: choose modules with --layer NAME or --all\n";
            return 2;
        }
        return extract(options);
    } catch (const Error& error) {
        std::cerr << "layerscope-cli: error: " << error.what() << "\n";
    } catch (const std::bad_alloc&) {
        std::cerr << "layerscope-cli: error: out of memory\n";
    } catch (const std::exception& error) {
        std::cerr << "layerscope-cli: error: " << error.what() << "\n";
    }
    return 1;
}
