// layerscope-cli: the engine from the command line. `modules` lists a model's module tree,
// `extract` runs images, image folders or .npy tensors through it and writes the chosen captures;
// `atlas` ranks images per channel over a folder; `cam` explains predictions (camcommand.h).

#include "atlascommands.h"
#include "camcommand.h"
#include "cliarguments.h"
#include "layerscope/error.h"
#include "layerscope/exporters.h"
#include "layerscope/extraction.h"
#include "layerscope/job.h"
#include "layerscope/model.h"
#include "layerscope/runtime.h"
#include "progressreport.h"

#include "layerscope/preprocessing.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <unistd.h>
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

int listModules(const std::string& modelPath, const LoadOptions& loadOptions)
{
    const Model model = Model::load(modelPath, loadOptions);
    std::cout << modelPath << ": " << model.signature() << "\n";
    std::size_t nameWidth = 7, typeWidth = 4; // "(model)", "type"
    for (const auto& m : model.modules()) {
        nameWidth = std::max(nameWidth, 2 * static_cast<std::size_t>(std::max(0, m.depth - 1)) + m.name.size());
        typeWidth = std::max(typeWidth, m.typeName.size());
    }
    std::printf("%-*s  %-*s  %12s\n", int(nameWidth), "module", int(typeWidth), "type", "parameters");
    for (const auto& m : model.modules()) {
        const std::string name = m.name.empty() ? "(model)" : std::string(2 * (m.depth - 1), ' ') + m.name;
        std::printf("%-*s  %-*s  %12s%s\n", int(nameWidth), name.c_str(), int(typeWidth), m.typeName.c_str(),
                    withThousands(m.totalParameters).c_str(), m.unavailable.empty() ? "" : "  *");
    }
    std::string reason; // the first, they share it: each kind of limit has one message
    int uncapturable = 0;
    for (const auto& m : model.modules())
        if (!m.unavailable.empty()) {
            reason = reason.empty() ? m.unavailable : reason;
            ++uncapturable;
        }
    if (uncapturable)
        std::cout << "* " << uncapturable << (uncapturable == 1 ? " module runs" : " modules run")
                  << " but cannot be captured: " << reason << "\n";
    for (const auto& note : model.notes())
        std::cerr << "note: " << note << "\n";
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

int merge(const cli::AtlasMergeOptions& options)
{
    cli::ProgressReport report(options.quiet, "rows");
    MergeResult merged;
    try {
        merged = mergeShards(options.shards, options.out, std::ref(report));
    } catch (const Cancelled&) {
        report.finish();
        std::cerr << "merge cancelled: nothing written to " << options.out << "\n";
        return 130;
    }
    report.finish();
    for (const auto& note : merged.notes)
        std::cerr << "note: " << note << "\n";
    std::cerr << "merged " << merged.shards << (merged.shards == 1 ? " shard: " : " shards: ") << merged.rows
              << " rows of " << merged.captures << " arrays to " << merged.outputPath << "; manifest "
              << merged.manifestPath << "\n";
    return 0;
}

int extract(cli::ExtractOptions& options)
{
    ExtractionJob& job = options.job;
    exportFormatFor(job.outputPath); // an unknown extension fails before the model loads
    job.exportOptions.grid.colormap = colormapFromName(options.colormap);
    job.exportOptions.grid.normalization
        = options.normalization == "layer" ? Normalization::LayerWide : Normalization::PerChannel;

    job.request.outputsOf = options.layers;
    job.allModules = options.all;
    job.withInputs = options.withInputs;

    if (!job.resume && std::filesystem::is_directory(resumeStatePathFor(job.outputPath)))
        std::cerr << "note: " << resumeStatePathFor(job.outputPath)
                  << " holds a killed run of this output: add --resume to continue it; this run starts over\n";
    cli::ProgressReport report(options.quiet);
    const ExtractionResult result
        = runExtraction(options.model, job, [&](const ExtractionProgress& p) { return report(p); });
    report.finish();

    for (const auto& skipped : result.skippedInputs)
        std::cerr << "skipped: " << skipped.reason << "\n";
    for (const auto& name : result.notExecuted)
        std::cerr << "not executed: " << name << " did not run in this forward\n";
    for (const auto& skipped : result.skippedValues)
        std::cerr << "skipped: " << skipped.key << " is " << skipped.typeName << ", not a tensor\n";
    for (const auto& note : result.notes)
        std::cerr << "note: " << note << "\n";
    if (options.all && result.captures.size() <= 1)
        std::cerr << "note: " << options.model << " has no submodules (frozen or inlined): only 'output' is saved\n";
    std::size_t bytes = 0;
    for (const auto& capture : result.captures) {
        std::size_t n = elementSize(capture.dtype);
        for (auto d : capture.shape)
            n *= std::size_t(d);
        bytes += n;
    }
    std::cerr << (result.cancelled ? "interrupted: wrote " : "wrote ") << result.rows
              << (result.rows == 1 ? " row of " : " rows of ") << result.captures.size() << " arrays ("
              << humanSize(bytes) << ") to " << job.outputPath << " in " << cli::formatSeconds(result.seconds)
              << (result.skippedInputs.empty() ? ""
                                               : ", " + std::to_string(result.skippedInputs.size())
                          + (result.skippedInputs.size() == 1 ? " input skipped" : " inputs skipped"))
              << "; manifest " << result.manifestPath << "\n";
    return result.cancelled ? 130 : 0;
}

} // namespace

int main(int argc, char** argv)
{
    CLI::App app {"LayerScope: list a TorchScript or ONNX model's modules and capture their activations."};
    cli::CommandLine line;
    cli::declareCommandLine(app, line);
    try {
        cli::parseArguments(app, std::vector<std::string>(argv + 1, argv + argc));
    } catch (const CLI::ParseError& error) {
        return app.exit(error);
    } catch (const Error& error) {
        std::cerr << "layerscope-cli: error: " << error.what() << "\n";
        return 2;
    }

    try {
        cli::checkCommandLine(line);
        if (*line.atlasShow)
            return cli::showAtlas(line.atlasShowing);
        if (*line.atlasMerge)
            return cli::mergeAtlasShards(line.atlasMerging);
        if (*line.merge)
            return merge(line.merging);
        const cli::ExtractOptions* run = line.runOptions();
        configureRuntime(run ? run->threads : 0);
        if (run && run->maxPixels > 0)
            setMaxImagePixels(run->maxPixels);
        if (*line.modules)
            return listModules(line.modulesModel, line.modulesLoad);
        if (*line.atlas)
            return cli::buildAtlasCommand(line.atlasBuild);
        if (*line.cam)
            return cli::camCommand(line.attribution);
        if (line.extraction.layers.empty() && !line.extraction.all) {
            std::cerr << "layerscope-cli: error: choose modules with --layer NAME or --all\n";
            return 2;
        }
        return extract(line.extraction);
    } catch (const Error& error) {
        std::cerr << "layerscope-cli: error: " << error.what() << "\n";
    } catch (const std::bad_alloc&) {
        std::cerr << "layerscope-cli: error: out of memory\n";
    } catch (const std::exception& error) {
        std::cerr << "layerscope-cli: error: " << error.what() << "\n";
    }
    return 1;
}
