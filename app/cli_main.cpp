// layerscope-cli: the engine from the command line. `modules` lists a model's module tree,
// `extract` runs images, image folders or .npy tensors through it and writes the chosen captures.

#include "layerscope/runtime.h"
#include "layerscope/error.h"
#include "layerscope/extraction.h"
#include "layerscope/model.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
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

std::atomic<bool> interrupted{false};

extern "C" void onInterrupt(int)
{
    interrupted = true;
    std::signal(SIGINT, SIG_DFL); // a second Ctrl-C ends the program at once
}

struct ExtractOptions {
    std::string model;
    std::vector<std::string> layers;
    bool all = false;
    bool withInputs = false;
    bool quiet = false;
    std::string shard;
    std::string preset, resize, crop, color, mean, std, interpolation;
    int resizeShorter = 0;
    int threads = 0;
    bool noScale = false;
    std::string colormap = "viridis", normalization = "channel";
    ExtractionJob job;
};

std::vector<float> parseFloats(const std::string& text, const char* option)
{
    std::vector<float> values;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        try {
            values.push_back(std::stof(item));
        } catch (const std::exception&) {
            throw Error(std::string(option) + ": '" + item + "' is not a number");
        }
    }
    return values;
}

// "224x160" or "224" (square).
std::pair<int, int> parseSize(const std::string& text, const char* option)
{
    int width = 0, height = 0;
    char x = 0;
    std::istringstream in(text);
    in >> width;
    if (in >> x)
        in >> height;
    else
        height = width;
    if (width <= 0 || height <= 0 || (x && x != 'x'))
        throw Error(std::string(option) + ": '" + text + "' is not a size like 224 or 224x160");
    return {width, height};
}

Preprocessing preprocessingFrom(const ExtractOptions& o)
{
    Preprocessing p;
    if (o.preset == "imagenet")
        p = Preprocessing::imagenet();
    else if (o.preset == "gray")
        p = Preprocessing::gray();
    else if (!o.preset.empty())
        throw Error("--preset: unknown preset '" + o.preset + "' (imagenet, gray)");
    if (!o.resize.empty()) {
        std::tie(p.resizeWidth, p.resizeHeight) = parseSize(o.resize, "--resize");
        p.resize = ResizeMode::Exact;
    }
    if (o.resizeShorter > 0) {
        p.resize = ResizeMode::ShorterSide;
        p.resizeWidth = o.resizeShorter;
    }
    if (!o.crop.empty())
        std::tie(p.cropWidth, p.cropHeight) = parseSize(o.crop, "--crop");
    if (o.color == "gray")
        p.color = ColorMode::Gray;
    else if (o.color == "rgb")
        p.color = ColorMode::RGB;
    else if (o.color == "bgr")
        p.color = ColorMode::BGR;
    if (o.noScale)
        p.scaleTo01 = false;
    if (!o.mean.empty())
        p.mean = parseFloats(o.mean, "--mean");
    if (!o.std.empty())
        p.std = parseFloats(o.std, "--std");
    if (o.interpolation == "area")
        p.interpolation = Interpolation::Area;
    else if (o.interpolation == "cubic")
        p.interpolation = Interpolation::Cubic;
    else if (o.interpolation == "nearest")
        p.interpolation = Interpolation::Nearest;
    return p;
}

std::string formatSeconds(double seconds)
{
    char text[32];
    const int s = int(seconds + 0.5);
    std::snprintf(text, sizeof text, "%d:%02d", s / 60, s % 60);
    return text;
}

// images done, images/s, ETA; redrawn in place on a terminal.
void drawProgress(const ExtractionProgress& p)
{
    const double rate = p.seconds > 0 ? p.done / p.seconds : 0;
    const int width = 30, filled = p.total ? int(width * p.done / p.total) : width;
    std::fprintf(stderr, "\r[%s%s] %lld/%lld images, %.1f images/s, ETA %s%s", std::string(filled, '#').c_str(),
                 std::string(width - filled, '.').c_str(), static_cast<long long>(p.done),
                 static_cast<long long>(p.total), rate,
                 rate > 0 ? formatSeconds((p.total - p.done) / rate).c_str() : "?",
                 p.skipped ? (", " + std::to_string(p.skipped) + " skipped").c_str() : "");
    std::fflush(stderr);
}

int extract(ExtractOptions& options)
{
    ExtractionJob& job = options.job;
    exportFormatFor(job.outputPath); // an unknown extension fails before the model loads
    job.preprocessing = preprocessingFrom(options);
    job.exportOptions.grid.colormap = colormapFromName(options.colormap);
    job.exportOptions.grid.normalization
        = options.normalization == "layer" ? Normalization::LayerWide : Normalization::PerChannel;
    if (!options.shard.empty()) {
        char slash = 0;
        std::istringstream in(options.shard);
        if (!(in >> job.shardIndex >> slash >> job.shardCount) || slash != '/')
            throw Error("--shard: '" + options.shard + "' is not I/N, like 0/4");
    }

    job.request.outputsOf = options.layers;
    job.allModules = options.all;
    job.withInputs = options.withInputs;

    const bool drawBar = !options.quiet && ::isatty(STDERR_FILENO);
    std::signal(SIGINT, onInterrupt);
    const ExtractionResult result = runExtraction(options.model, job, [&](const ExtractionProgress& p) {
        if (drawBar && p.total > 1)
            drawProgress(p);
        return !interrupted.load();
    });
    if (drawBar)
        std::fprintf(stderr, "\n");

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
              << humanSize(bytes) << ") to " << job.outputPath << " in " << formatSeconds(result.seconds)
              << (result.skippedInputs.empty() ? ""
                  : ", " + std::to_string(result.skippedInputs.size())
                        + (result.skippedInputs.size() == 1 ? " input skipped" : " inputs skipped"))
              << "; manifest " << result.manifestPath << "\n";
    return result.cancelled ? 130 : 0;
}

} // namespace

int main(int argc, char** argv)
{
    CLI::App app{"LayerScope: list a TorchScript model's modules and capture their activations."};
    app.require_subcommand(1);

    std::string modulesModel;
    auto* modules = app.add_subcommand("modules", "Print the module tree: qualified name, type, parameter count.");
    modules->add_option("MODEL", modulesModel, "TorchScript file (torch.jit.script or torch.jit.trace, then save)")
        ->required();

    ExtractOptions options;
    auto* extractCommand = app.add_subcommand(
        "extract", "Run the model on images, folders of images or .npy tensors and write the chosen modules' "
                   "activations (.npz, .mat, .pt, .csv, .png, or a folder of .npy files).");
    extractCommand->add_option("MODEL", options.model, "TorchScript file")->required();
    extractCommand
        ->add_option("--input,-i", options.job.inputs,
                     "An image, a folder of images, or an .npy tensor per forward argument, in order")
        ->required();
    auto* layer = extractCommand->add_option("--layer,-l", options.layers,
                                             "Qualified module name as named_modules() gives it (repeatable)");
    auto* all = extractCommand->add_flag("--all", options.all, "Every module except the root");
    layer->excludes(all);
    extractCommand->add_flag("--with-inputs", options.withInputs, "Also save each chosen module's inputs ('name>in')");
    extractCommand
        ->add_option("--out,-o", options.job.outputPath,
                     "Output: .npz, .mat, .pt, .csv, .png, or a folder (one .npy per capture); a manifest goes beside it")
        ->required();
    extractCommand->add_flag("--recursive,-r", options.job.recursive, "Look for images in subfolders too");
    extractCommand->add_option("--batch-size,-b", options.job.batchSize, "Images per forward")->capture_default_str();
    extractCommand->add_option("--shard", options.shard, "I/N: only every N-th image, starting at I (0-based)");
    extractCommand->add_flag("--quiet,-q", options.quiet, "No progress bar");
    extractCommand->add_option("--threads", options.threads, "Threads for the forward (default: every core)");
    auto* images = extractCommand->add_option_group("Image preprocessing", "Applied in this order");
    images->add_option("--preset", options.preset,
                       "imagenet (shorter side 256, crop 224, RGB, ImageNet mean/std) or gray (grayscale, [0,1])");
    images->add_option("--resize", options.resize, "Resize to WxH (or N for NxN)");
    images->add_option("--resize-shorter", options.resizeShorter, "Resize so that the shorter side is N");
    images->add_option("--crop", options.crop, "Center crop WxH (or N)");
    images->add_option("--color", options.color, "gray, rgb (default) or bgr")
        ->check(CLI::IsMember({"gray", "rgb", "bgr"}));
    images->add_flag("--no-scale", options.noScale, "Keep pixel values (0..255) instead of scaling to [0,1]");
    images->add_option("--mean", options.mean, "Per-channel mean to subtract: 0.485,0.456,0.406");
    images->add_option("--std", options.std, "Per-channel std to divide by: 0.229,0.224,0.225");
    images->add_option("--interpolation", options.interpolation, "linear (default), area, cubic or nearest")
        ->check(CLI::IsMember({"linear", "area", "cubic", "nearest"}));
    auto* png = extractCommand->add_option_group("PNG output");
    png->add_option("--colormap", options.colormap, "viridis, gray, magma, inferno, plasma, jet, turbo, diverging")
        ->capture_default_str();
    png->add_option("--normalize", options.normalization, "channel (each channel its own range) or layer")
        ->check(CLI::IsMember({"channel", "layer"}))
        ->capture_default_str();

    CLI11_PARSE(app, argc, argv);
    configureRuntime(options.threads);

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
