#include "extraction/manifest_p.h"
#include "extraction/reduction_p.h"

#include <nlohmann/json.hpp>

#include <ctime>
#include <filesystem>

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace layerscope::detail {

namespace {

std::string isoTimeNow()
{
    const std::time_t now = std::time(nullptr);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    return text;
}

const char* kindName(InputSet::Kind kind)
{
    switch (kind) {
    case InputSet::Kind::Folder: return "folder";
    case InputSet::Kind::Image: return "image";
    case InputSet::Kind::Tensor: return "npy";
    }
    return "";
}

} // namespace

std::string extractionManifest(const ManifestFacts& facts)
{
    const ExtractionJob& job = facts.job;
    const Model& model = facts.model;
    const ExtractionResult& result = facts.result;
    Json manifest = Json::object();
    manifest["layerscope_version"] = layerscopeVersion();
    manifest["created"] = isoTimeNow();
    manifest["model"] = {{"path", fs::absolute(model.path()).string()},
                         {"sha256", facts.modelSha256},
                         {"format", model.formatName()},
                         {"signature", model.signature()},
                         // A bfloat16 model's captures are stored as float32 holding bfloat16 values.
                         {"parameter_dtype", dtypeName(model.parameterDType())}};
    // Modules that run but whose output the file does not hold (ONNX: BatchNorm folded into a convolution).
    Json uncapturable = Json::array();
    for (const auto& m : model.modules())
        if (!m.unavailable.empty())
            uncapturable.push_back({{"module", m.name}, {"reason", m.unavailable}});
    if (!uncapturable.empty())
        manifest["uncapturable_modules"] = uncapturable;
    Json inputs = Json::array();
    for (std::size_t a = 0; a < facts.inputs.arguments(); ++a)
        inputs.push_back({{"argument", a < model.forwardArguments().size() ? model.forwardArguments()[a].name : ""},
                          {"kind", kindName(facts.inputs.kind(a))},
                          {"path", fs::absolute(facts.inputs.path(a)).string()}});
    manifest["inputs"] = inputs;
    // Image preprocessing is recorded only where an image was read (an .npy is taken as it is).
    bool images = false;
    for (std::size_t a = 0; a < facts.inputs.arguments(); ++a)
        images = images || facts.inputs.kind(a) != InputSet::Kind::Tensor;
    manifest["preprocessing"] = images ? Json::parse(job.preprocessing.toJson()) : Json();
    manifest["preprocessing_description"]
        = images ? job.preprocessing.describe() : "none: .npy inputs are taken as they are";
    manifest["batch_size"] = job.batchSize;
    manifest["recursive"] = job.recursive;
    manifest["shard"]
        = {{"index", job.shardIndex}, {"count", job.shardCount}, {"dataset_size", facts.inputs.datasetSize()}};
    manifest["output"]
        = {{"path", fs::absolute(facts.outputPath).string()}, {"format", exportFormatName(facts.format)}};
    Json captures = Json::array();
    for (const auto& capture : result.captures) {
        Json entry = {{"name", capture.name}, {"shape", capture.shape}, {"dtype", dtypeName(capture.dtype)}};
        if (!capture.storedAs.empty())
            entry["stored_as"] = capture.storedAs;
        captures.push_back(entry);
    }
    manifest["captures"] = captures;
    if (!job.method.empty())
        manifest["method"] = job.method;
    if (job.reduce.any()) // --pool, --dtype: the captures' shapes above are the reduced ones
        manifest["reduce"] = Json::parse(detail::reductionJson(job.reduce));
    Json skipped = Json::array();
    for (const auto& s : result.skippedInputs)
        skipped.push_back({{"files", s.files}, {"reason", s.reason}});
    manifest["skipped_inputs"] = skipped;
    manifest["not_executed"] = result.notExecuted;
    Json values = Json::array();
    for (const auto& v : result.skippedValues)
        values.push_back({{"name", v.key}, {"type", v.typeName}});
    manifest["skipped_values"] = values;
    manifest["cancelled"] = result.cancelled;
    manifest["seconds"] = result.seconds;
    manifest["timing"] = {{"forward_seconds", result.forwardSeconds},
                          {"input_wait_seconds", result.inputWaitSeconds},
                          {"write_wait_seconds", result.writeWaitSeconds},
                          {"decode_threads", facts.decodeThreads},
                          {"streams", result.streams}};
    return manifest.dump(1, ' ', false, Json::error_handler_t::replace);
}

} // namespace layerscope::detail
