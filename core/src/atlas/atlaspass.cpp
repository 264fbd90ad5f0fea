// The atlas pass: extraction's pipeline (decoding in parallel, batches, shards) with an atlas
// builder in place of a file writer.

#include "layerscope/atlas.h"

#include "layerscope/error.h"
#include "model/namesuggest_p.h"

#include <filesystem>
#include <future>

namespace fs = std::filesystem;

namespace layerscope {

namespace {

std::map<std::string, Tensor> capturesOf(const RunResult& run, const std::vector<std::string>& wanted)
{
    std::map<std::string, Tensor> found;
    std::vector<std::string> recorded;
    for (const auto* list : {&run.captures, &run.outputs})
        for (const Capture& capture : *list) {
            recorded.push_back(capture.key);
            if (std::find(wanted.begin(), wanted.end(), capture.key) != wanted.end())
                found.emplace(capture.key, capture.tensor);
        }
    for (const std::string& key : wanted) {
        if (found.count(key))
            continue;
        std::string message = "capture '" + key + "' was not recorded in this forward";
        const auto close = detail::closestNames(key, recorded, 3);
        for (std::size_t i = 0; i < close.size(); ++i)
            message += (i ? ", '" : "; did you mean '") + close[i] + "'";
        throw Error(message + (close.empty() ? "" : "?"));
    }
    return found;
}

Tensor modelOutput(const RunResult& run) { return run.outputs.empty() ? Tensor() : run.outputs.front().tensor; }

template <typename Run> AtlasResult pass(const std::string& modelPath, const AtlasJob& job, const Run& run)
{
    if (job.captures.empty())
        throw Error("no capture chosen for the atlas; name one with --layer");
    std::future<std::string> modelHash
        = std::async(std::launch::async, [modelPath] { return sha256OfFile(modelPath); });
    AtlasInfo info;
    info.modelPath = fs::absolute(modelPath).string();
    info.inputs = job.run.inputs;
    info.recursive = job.run.recursive;
    info.preprocessingJson = job.run.preprocessing.toJson();
    info.score = job.score;
    info.topK = job.topK;
    info.shardIndex = job.run.shardIndex;
    info.shardCount = job.run.shardCount;
    info.captures = job.captures;
    // An unwritable atlas fails before any work; a resumed one is restored to its last checkpoint.
    AtlasBuilder builder(job.run.outputPath, info, job.run.resume);

    ExtractionJob extraction = job.run;
    extraction.allModules = false;
    extraction.withInputs = false;
    extraction.request = {};
    for (const std::string& key : job.captures)
        addCaptureKey(key, extraction.request);
    // What a resume must find the same beside the run's own identity (model, data set, batches, captures).
    extraction.method = {{"atlas_score", atlasScoreName(job.score)}, {"atlas_top_k", std::to_string(job.topK)}};
    extraction.onBatch = [&](const ExtractionBatch& batch) {
        std::vector<std::string> files;
        for (const auto& perArgument : batch.files)
            files.push_back(perArgument.front());
        builder.add(batch.datasetRows, files, capturesOf(*batch.run, job.captures), modelOutput(*batch.run));
    };
    if (job.run.resume) {
        extraction.onCheckpoint = [&](const std::string& runState) { builder.checkpoint(runState); };
        extraction.resumedState = builder.resumedState();
    }
    const ExtractionResult extracted = run(extraction);

    AtlasResult result;
    result.skippedInputs = extracted.skippedInputs;
    result.cancelled = extracted.cancelled;
    result.images = builder.images();
    if (result.cancelled)
        return result; // the builder's staging goes with it: nothing under the atlas's name
    for (const SkippedInput& skipped : extracted.skippedInputs)
        builder.addSkipped(skipped.reason);
    builder.setDatasetRows(extracted.datasetSize, modelHash.get());
    result.notes = builder.finish();
    result.seconds = extracted.seconds;
    result.path = job.run.outputPath;
    return result;
}

} // namespace

AtlasResult buildAtlas(const std::string& modelPath, const AtlasJob& job, const ProgressCallback& progress)
{
    return pass(modelPath, job,
                [&](const ExtractionJob& extraction) { return runExtraction(modelPath, extraction, progress); });
}

AtlasResult buildAtlas(const Model& model, const AtlasJob& job, const ProgressCallback& progress)
{
    return pass(model.path(), job,
                [&](const ExtractionJob& extraction) { return runExtraction(model, extraction, progress); });
}

} // namespace layerscope
