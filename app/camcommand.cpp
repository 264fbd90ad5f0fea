#include "camcommand.h"

#include "progressreport.h"

#include "layerscope/attribution.h"
#include "layerscope/error.h"
#include "layerscope/extraction.h"
#include "layerscope/render.h"

#include <cstdio>
#include <filesystem>

#include <iostream>
#include <memory>
#include <mutex>
#include <set>

namespace layerscope::cli {

namespace {

std::int64_t classIndex(const std::string& choice)
{
    if (choice == "top")
        return -1;
    std::size_t used = 0;
    long long index = -1;
    try {
        index = std::stoll(choice, &used);
    } catch (const std::exception&) {
    }
    if (used != choice.size() || index < 0)
        throw Error("--class: '" + choice + "' is neither 'top' nor a class index (0 or more)");
    return index;
}

Capture captureOf(const std::string& key, const Tensor& tensor)
{
    Capture capture;
    capture.key = key;
    capture.tensor = tensor;
    return capture;
}

// --overlay: each sample's map over the image it explains, "<row>_<file stem>[_inputK].png".
class OverlayWriter {
public:
    OverlayWriter(const CamOptions& options)
        : folder_(options.overlayFolder)
        , colormap_(colormapFromName(options.colormap))
        , opacity_(options.opacity)
    {
        std::error_code error;
        if (!folder_.empty() && !std::filesystem::is_directory(folder_)
            && !std::filesystem::create_directories(folder_, error))
            throw Error("--overlay: " + folder_ + ": cannot create the folder (" + error.message() + ")");
    }
    bool wanted() const { return !folder_.empty(); }

    // The map of argument `argument` over that argument's images (the first for a module's map).
    void write(const ForwardBatch& batch, const Tensor& maps, std::size_t argument, std::string* note) const
    {
        const Tensor& images = batch.inputs[argument];
        const auto& s = images.shape;
        if (s.size() != 4 || (s[1] != 1 && s[1] != 3)) {
            *note = "--overlay: input " + std::to_string(argument) + " is " + shapeToString(s)
                + ", not an image ([N, 1 or 3, H, W]): no overlay written for it";
            return;
        }
        for (std::size_t i = 0; i < batch.datasetRows.size(); ++i) {
            const std::string stem = std::filesystem::path(batch.files[i][argument]).stem().string();
            char row[32];
            std::snprintf(row, sizeof row, "%06lld_", static_cast<long long>(batch.datasetRows[i]));
            const std::string name = row + stem + (argument ? "_input" + std::to_string(argument) : "") + ".png";
            writePng(
                renderOverlay(sampleOf(images, std::int64_t(i)), sampleOf(maps, std::int64_t(i)), colormap_, opacity_),
                (std::filesystem::path(folder_) / name).string());
        }
    }

private:
    std::string folder_;
    Colormap colormap_;
    double opacity_;
};

} // namespace

int camCommand(CamOptions& options)
{
    AttributionRequest request;
    request.method = attributionMethodFromName(options.method);
    request.samples = options.samples;
    request.noise = options.noise;
    request.seed = options.seed;
    request.steps = options.steps;
    request.baseline = baselineFromName(options.baseline);
    request.tokens.leading = options.leadingTokens;
    if (!options.tokenGrid.empty()) {
        int height = 0, width = 0;
        char x = 0, rest = 0;
        if (std::sscanf(options.tokenGrid.c_str(), "%d%c%d%c", &height, &x, &width, &rest) != 3 || x != 'x'
            || height <= 0 || width <= 0)
            throw Error("--token-grid: '" + options.tokenGrid + "' is not HxW (e.g. 14x14)");
        request.tokens.height = height, request.tokens.width = width;
    }
    const std::vector<std::string>& layers = options.run.layers;
    if (isInputAttribution(request.method)) {
        if (!layers.empty())
            throw Error("--layer: " + options.method + " attributes to the inputs, it takes no target module");
    } else {
        if (layers.size() != 1)
            throw Error("--layer: " + options.method
                        + " needs exactly one target module (a capture key: name or name:1)");
        request.layer = layers.front();
    }
    const std::int64_t wantedClass = classIndex(options.classChoice);

    ExtractionJob job = options.run.job;
    if (exportFormatFor(job.outputPath) != ExportFormat::Npz)
        throw Error("--out: " + job.outputPath + ": cam writes an .npz (cam, class, score)");
    job.request = {};
    job.method = {{"name", options.method}, {"layer", request.layer}, {"class", options.classChoice}};
    if (request.method == AttributionMethod::SmoothGrad)
        job.method.insert({{"samples", std::to_string(request.samples)},
                           {"noise", std::to_string(request.noise)},
                           {"seed", std::to_string(request.seed)}});
    if (request.method == AttributionMethod::IntegratedGradients)
        job.method.insert({{"steps", std::to_string(request.steps)}, {"baseline", baselineName(request.baseline)}});
    const auto overlays = std::make_shared<const OverlayWriter>(options);
    if (overlays->wanted())
        job.method["overlay"] = options.overlayFolder;
    // Notes (a token grid assumed, an in-place tap) are the same for every batch: said once.
    auto notes = std::make_shared<std::pair<std::mutex, std::set<std::string>>>();
    job.forward = [request, wantedClass, notes, overlays](const Model& model, const ForwardBatch& batch,
                                                          const JobControl* control) {
        AttributionRequest wanted = request;
        if (wantedClass >= 0 && !batch.inputs.empty() && !batch.inputs.front().shape.empty())
            wanted.classes.assign(std::size_t(batch.inputs.front().shape[0]), wantedClass);
        const Attribution attribution = explain(model, batch.inputs, wanted, control);
        std::vector<std::string> said {attribution.note};
        RunResult result;
        result.captures.push_back(captureOf("cam", attribution.cam));
        for (std::size_t a = 1; a < attribution.inputMaps.size(); ++a) // input maps of further arguments
            if (!attribution.inputMaps[a].shape.empty())
                result.captures.push_back(captureOf("cam_input" + std::to_string(a), attribution.inputMaps[a]));
        result.captures.push_back(captureOf("class", vectorTensor(attribution.classes)));
        result.captures.push_back(captureOf("score", vectorTensor(attribution.scores)));
        if (!attribution.convergenceDelta.empty())
            result.captures.push_back(captureOf("delta", vectorTensor(attribution.convergenceDelta)));
        if (overlays->wanted()) {
            said.emplace_back();
            overlays->write(batch, attribution.cam, 0, &said.back());
            for (std::size_t a = 1; a < attribution.inputMaps.size(); ++a)
                if (!attribution.inputMaps[a].shape.empty()) {
                    said.emplace_back();
                    overlays->write(batch, attribution.inputMaps[a], a, &said.back());
                }
        }
        std::lock_guard<std::mutex> lock(notes->first);
        for (const auto& note : said)
            if (!note.empty())
                notes->second.insert(note);
        return result;
    };

    ProgressReport report(options.run.quiet);
    const ExtractionResult result
        = runExtraction(options.run.model, job, [&](const ExtractionProgress& p) { return report(p); });
    report.finish();
    for (const auto& skipped : result.skippedInputs)
        std::cerr << "skipped: " << skipped.reason << "\n";
    for (const auto& note : notes->second)
        std::cerr << "note: " << note << "\n";
    std::cerr << (result.cancelled ? "interrupted: wrote " : "wrote ") << options.method << " maps of " << result.rows
              << (result.rows == 1 ? " input" : " inputs") << " to " << job.outputPath
              << (overlays->wanted() ? " and overlays to " + options.overlayFolder : std::string()) << " in "
              << formatSeconds(result.seconds) << "; manifest " << result.manifestPath << "\n";
    return result.cancelled ? 130 : 0;
}

} // namespace layerscope::cli
