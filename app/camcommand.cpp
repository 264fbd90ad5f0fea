#include "camcommand.h"

#include "progressreport.h"

#include "layerscope/attribution.h"
#include "layerscope/error.h"
#include "layerscope/extraction.h"

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

} // namespace

int camCommand(CamOptions& options)
{
    AttributionRequest request;
    request.method = attributionMethodFromName(options.method);
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
    // Notes (a token grid assumed, an in-place tap) are the same for every batch: said once.
    auto notes = std::make_shared<std::pair<std::mutex, std::set<std::string>>>();
    job.forward = [request, wantedClass, notes](const Model& model, const std::vector<Tensor>& inputs,
                                                const JobControl* control) {
        AttributionRequest batch = request;
        if (wantedClass >= 0 && !inputs.empty() && !inputs.front().shape.empty())
            batch.classes.assign(std::size_t(inputs.front().shape[0]), wantedClass);
        const Attribution attribution = explain(model, inputs, batch, control);
        if (!attribution.note.empty()) {
            std::lock_guard<std::mutex> lock(notes->first);
            notes->second.insert(attribution.note);
        }
        RunResult result;
        result.captures.push_back(captureOf("cam", attribution.cam));
        for (std::size_t a = 1; a < attribution.inputMaps.size(); ++a) // saliency of further arguments
            if (!attribution.inputMaps[a].shape.empty())
                result.captures.push_back(captureOf("cam_input" + std::to_string(a), attribution.inputMaps[a]));
        result.captures.push_back(captureOf("class", vectorTensor(attribution.classes)));
        result.captures.push_back(captureOf("score", vectorTensor(attribution.scores)));
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
              << (result.rows == 1 ? " input" : " inputs") << " to " << job.outputPath << " in "
              << formatSeconds(result.seconds) << "; manifest " << result.manifestPath << "\n";
    return result.cancelled ? 130 : 0;
}

} // namespace layerscope::cli
