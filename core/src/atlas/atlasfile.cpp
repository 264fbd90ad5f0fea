#include "atlas/atlasfile_p.h"

#include "formats/atomicfile_p.h"
#include "layerscope/error.h"
#include "layerscope/npy.h"
#include "model/namesuggest_p.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace layerscope::detail {

const char* const kAtlasJson = "atlas.json";
const char* const kAtlasImages = "images.jsonl";

namespace {

constexpr int kStatisticsColumns = 9;
constexpr std::uintmax_t kMaxAtlasJsonBytes = 64u << 20;

const char* kindName(AtlasCaptureKind kind)
{
    switch (kind) {
    case AtlasCaptureKind::Map: return "map";
    case AtlasCaptureKind::Vector: return "vector";
    case AtlasCaptureKind::Tokens: return "tokens";
    }
    return "map";
}

template <typename T> T* valuesOf(Tensor& tensor) { return static_cast<T*>(tensor.mutableData()); }

void writeRanking(const std::string& folder, const std::string& prefix,
                  const std::vector<std::vector<AtlasEntry>>& ranking, int topK)
{
    const auto channels = std::int64_t(ranking.size());
    Tensor rows = Tensor::zeros({channels, topK}, DType::Int64);
    Tensor scores = Tensor::zeros({channels, topK}, DType::Float32);
    Tensor positions = Tensor::zeros({channels, topK, 2}, DType::Int32);
    for (std::int64_t c = 0; c < channels; ++c)
        for (int k = 0; k < topK; ++k) {
            const std::size_t at = std::size_t(c * topK + k);
            const bool present = k < int(ranking[std::size_t(c)].size());
            const AtlasEntry entry
                = present ? ranking[std::size_t(c)][std::size_t(k)] : AtlasEntry {-1, std::nanf(""), -1, -1};
            valuesOf<std::int64_t>(rows)[at] = entry.row;
            valuesOf<float>(scores)[at] = entry.score;
            valuesOf<std::int32_t>(positions)[2 * at] = entry.y;
            valuesOf<std::int32_t>(positions)[2 * at + 1] = entry.x;
        }
    writeNpy(folder + "/" + prefix + "_rows.npy", rows);
    writeNpy(folder + "/" + prefix + "_scores.npy", scores);
    writeNpy(folder + "/" + prefix + "_positions.npy", positions);
}

} // namespace

std::string layerFolderName(std::size_t index) { return "capture_" + std::to_string(index); }

std::string atlasJson(const AtlasInfo& info, const std::vector<AtlasLayer>& layers)
{
    Json json;
    json["format"] = "layerscope-atlas";
    json["format_version"] = 1;
    json["model"] = {{"path", info.modelPath}, {"sha256", info.modelSha256}};
    json["inputs"] = info.inputs;
    json["recursive"] = info.recursive;
    json["preprocessing"] = info.preprocessingJson.empty() ? Json() : Json::parse(info.preprocessingJson);
    json["score"] = atlasScoreName(info.score);
    json["top_k"] = info.topK;
    json["shard"] = {{"index", info.shardIndex}, {"count", info.shardCount}};
    json["dataset_rows"] = info.datasetRows;
    Json captures = Json::array();
    for (std::size_t i = 0; i < layers.size(); ++i)
        captures.push_back({{"capture", layers[i].capture},
                            {"folder", layerFolderName(i)},
                            {"shape", layers[i].sampleShape},
                            {"kind", kindName(layers[i].kind)}});
    json["captures"] = captures;
    json["skipped"] = info.skipped;
    return json.dump(1) + "\n";
}

void writeLayerArrays(const std::string& folder, const AtlasLayer& layer, int topK)
{
    writeRanking(folder, "top", layer.top, topK);
    writeRanking(folder, "bottom", layer.bottom, topK);
    Tensor statistics = Tensor::zeros({layer.channels(), kStatisticsColumns}, DType::Float64);
    double* row = valuesOf<double>(statistics);
    for (const ChannelStatistics& s : layer.statistics) {
        const double values[kStatisticsColumns]
            = {double(s.values), s.mean,           s.m2,          s.min,        s.max,
               double(s.images), double(s.active), double(s.nan), double(s.inf)};
        std::memcpy(row, values, sizeof values);
        row += kStatisticsColumns;
    }
    writeNpy(folder + "/statistics.npy", statistics);
}

std::string imageLine(const std::string& file)
{
    return Json(file).dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

void checkAtlasTarget(const std::string& target)
{
    std::error_code ec;
    if (fs::exists(target, ec) && !fs::exists(fs::path(target) / kAtlasJson, ec))
        throw Error(target + ": exists and is not an atlas; choose another name");
    if (!fs::exists(target, ec))
        checkWritable(target);
}

void publishAtlas(StagingFolder& staging, const std::string& target)
{
    std::error_code ec;
    if (!fs::exists(target, ec)) {
        staging.moveTo(target);
        return;
    }
    checkAtlasTarget(target);
    // The old atlas moves aside (a staging folder of its own, so a crash leaves nothing a later run
    // would not clean up), the new one takes its name, and only then is the old one removed.
    StagingFolder old(target);
    const std::string aside = old.path() + "/previous";
    if (std::rename(target.c_str(), aside.c_str()) != 0)
        throwWriteError(target, errno);
    try {
        staging.moveTo(target);
    } catch (...) {
        std::rename(aside.c_str(), target.c_str());
        throw;
    }
}

} // namespace layerscope::detail

namespace layerscope {

namespace {

using detail::kAtlasImages;
using detail::kAtlasJson;

[[noreturn]] void bad(const std::string& file, const std::string& cause)
{
    throw Error(file + ": not a readable atlas (" + cause + ")");
}

Tensor readArray(const std::string& file, DType dtype, const std::vector<std::int64_t>& shape)
{
    Tensor tensor = readNpy(file);
    if (tensor.dtype != dtype)
        bad(file, dtypeName(tensor.dtype) + " where " + dtypeName(dtype) + " was expected");
    if (tensor.shape != shape)
        bad(file, "shape " + shapeToString(tensor.shape) + " where " + shapeToString(shape) + " was expected");
    return tensor;
}

AtlasCaptureKind kindFromName(const std::string& file, const std::string& name)
{
    if (name == "map")
        return AtlasCaptureKind::Map;
    if (name == "vector")
        return AtlasCaptureKind::Vector;
    if (name == "tokens")
        return AtlasCaptureKind::Tokens;
    bad(file, "unknown capture kind '" + name + "'");
}

std::vector<std::vector<AtlasEntry>> readRanking(const std::string& folder, const std::string& prefix,
                                                 std::int64_t channels, int topK,
                                                 const std::map<std::int64_t, std::size_t>& indexOfRow)
{
    const Tensor rows = readArray(folder + "/" + prefix + "_rows.npy", DType::Int64, {channels, topK});
    const Tensor scores = readArray(folder + "/" + prefix + "_scores.npy", DType::Float32, {channels, topK});
    const Tensor positions = readArray(folder + "/" + prefix + "_positions.npy", DType::Int32, {channels, topK, 2});
    std::vector<std::vector<AtlasEntry>> ranking {std::size_t(channels)};
    for (std::int64_t c = 0; c < channels; ++c)
        for (int k = 0; k < topK; ++k) {
            const std::size_t at = std::size_t(c * topK + k);
            const AtlasEntry entry {rows.values<std::int64_t>()[at], scores.values<float>()[at],
                                    positions.values<std::int32_t>()[2 * at],
                                    positions.values<std::int32_t>()[2 * at + 1]};
            if (entry.row < 0)
                break;
            if (!indexOfRow.count(entry.row))
                bad(folder + "/" + prefix + "_rows.npy",
                    "row " + std::to_string(entry.row) + " is not an image of the atlas");
            ranking[std::size_t(c)].push_back(entry);
        }
    return ranking;
}

std::vector<std::string> readImageList(const std::string& file, std::int64_t expected)
{
    std::ifstream in(file);
    if (!in)
        bad(file, "missing");
    std::vector<std::string> files;
    files.reserve(std::size_t(expected));
    std::string line;
    while (std::getline(in, line)) {
        if (std::int64_t(files.size()) >= expected)
            bad(file, "more lines than rows.npy has rows");
        const Json value = Json::parse(line, nullptr, false);
        if (!value.is_string())
            bad(file, "line " + std::to_string(files.size() + 1) + " is not a JSON string");
        files.push_back(value.get<std::string>());
    }
    if (std::int64_t(files.size()) != expected)
        bad(file, std::to_string(files.size()) + " lines for " + std::to_string(expected) + " rows");
    return files;
}

} // namespace

Atlas Atlas::open(const std::string& path)
{
    Atlas atlas;
    atlas.path_ = path;
    const std::string jsonFile = path + "/" + kAtlasJson;
    std::error_code ec;
    if (!fs::is_directory(path, ec))
        throw Error(path + ": not an atlas (not a folder; make one with layerscope-cli atlas)");
    const auto size = fs::file_size(jsonFile, ec);
    if (ec)
        throw Error(path + ": not an atlas (no " + std::string(kAtlasJson) + ")");
    if (size > detail::kMaxAtlasJsonBytes)
        bad(jsonFile, "larger than 64 MiB");
    std::ifstream in(jsonFile);
    const Json json = Json::parse(in, nullptr, false);
    if (json.is_discarded() || !json.is_object() || json.value("format", "") != "layerscope-atlas")
        bad(jsonFile, "not a LayerScope atlas description");
    AtlasInfo& info = atlas.info_;
    try {
        if (json.at("format_version").get<int>() != 1)
            bad(jsonFile, "format version " + json.at("format_version").dump() + "; this LayerScope reads version 1");
        info.modelPath = json.at("model").at("path").get<std::string>();
        info.modelSha256 = json.at("model").at("sha256").get<std::string>();
        info.inputs = json.at("inputs").get<std::vector<std::string>>();
        info.recursive = json.at("recursive").get<bool>();
        info.preprocessingJson = json.at("preprocessing").is_null() ? "" : json.at("preprocessing").dump();
        info.score = json.at("score").get<std::string>() == "mean" ? AtlasScore::Mean : AtlasScore::Max;
        info.topK = json.at("top_k").get<int>();
        info.shardIndex = json.at("shard").at("index").get<int>();
        info.shardCount = json.at("shard").at("count").get<int>();
        info.datasetRows = json.at("dataset_rows").get<std::int64_t>();
        info.skipped = json.at("skipped").get<std::vector<std::string>>();
        if (info.topK <= 0 || info.topK > 100000)
            bad(jsonFile, "top_k " + std::to_string(info.topK));
        for (const Json& capture : json.at("captures")) {
            AtlasLayer layer;
            layer.capture = capture.at("capture").get<std::string>();
            layer.sampleShape = capture.at("shape").get<std::vector<std::int64_t>>();
            layer.kind = kindFromName(jsonFile, capture.at("kind").get<std::string>());
            info.captures.push_back(layer.capture);
            atlas.layers_.push_back(std::move(layer));
        }
    } catch (const nlohmann::json::exception& e) {
        bad(jsonFile, e.what());
    }

    const Tensor rows = readNpy(path + "/rows.npy");
    if (rows.dtype != DType::Int64 || rows.shape.size() != 1)
        bad(path + "/rows.npy", "not a 1-D int64 array");
    const std::int64_t images = rows.shape[0];
    atlas.rows_.assign(rows.values<std::int64_t>(), rows.values<std::int64_t>() + images);
    for (std::size_t i = 0; i < atlas.rows_.size(); ++i)
        if (!atlas.indexOfRow_.emplace(atlas.rows_[i], i).second)
            bad(path + "/rows.npy", "row " + std::to_string(atlas.rows_[i]) + " appears twice");
    atlas.files_ = readImageList(path + "/" + kAtlasImages, images);
    const Tensor predicted = readArray(path + "/predicted_class.npy", DType::Int64, {images});
    const Tensor predictedScore = readArray(path + "/predicted_score.npy", DType::Float32, {images});
    atlas.predictedClass_.assign(predicted.values<std::int64_t>(), predicted.values<std::int64_t>() + images);
    atlas.predictedScore_.assign(predictedScore.values<float>(), predictedScore.values<float>() + images);

    for (std::size_t i = 0; i < atlas.layers_.size(); ++i) {
        AtlasLayer& layer = atlas.layers_[i];
        const std::string folder = path + "/" + detail::layerFolderName(i);
        const Tensor statistics = readNpy(folder + "/statistics.npy");
        if (statistics.dtype != DType::Float64 || statistics.shape.size() != 2
            || statistics.shape[1] != detail::kStatisticsColumns)
            bad(folder + "/statistics.npy", "not a [C, 9] float64 array");
        const std::int64_t channels = statistics.shape[0];
        for (std::int64_t c = 0; c < channels; ++c) {
            const double* v = statistics.values<double>() + c * detail::kStatisticsColumns;
            ChannelStatistics s;
            s.values = std::int64_t(v[0]), s.mean = v[1], s.m2 = v[2], s.min = v[3], s.max = v[4];
            s.images = std::int64_t(v[5]), s.active = std::int64_t(v[6]), s.nan = std::int64_t(v[7]),
            s.inf = std::int64_t(v[8]);
            layer.statistics.push_back(s);
        }
        layer.top = readRanking(folder, "top", channels, info.topK, atlas.indexOfRow_);
        layer.bottom = readRanking(folder, "bottom", channels, info.topK, atlas.indexOfRow_);
    }
    return atlas;
}

const AtlasLayer& Atlas::layer(const std::string& capture) const
{
    for (const AtlasLayer& layer : layers_)
        if (layer.capture == capture)
            return layer;
    std::string message = path_ + ": no capture '" + capture + "' in this atlas";
    const std::vector<std::string> close = detail::closestNames(capture, info_.captures, 3);
    if (!close.empty()) {
        message += "; did you mean";
        for (std::size_t i = 0; i < close.size(); ++i)
            message += (i ? ", '" : " '") + close[i] + "'";
    }
    std::string all;
    for (const std::string& name : info_.captures)
        all += (all.empty() ? "" : ", ") + name;
    throw Error(message + "? (it holds: " + all + ")");
}

std::string Atlas::fileOfRow(std::int64_t row) const
{
    const auto it = indexOfRow_.find(row);
    return it == indexOfRow_.end() ? std::string() : files_[it->second];
}

Tensor Atlas::pooled(const std::string& capture) const
{
    const AtlasLayer& wanted = layer(capture);
    const std::size_t index = std::size_t(&wanted - layers_.data());
    return readArray(path_ + "/" + detail::layerFolderName(index) + "/pooled.npy", DType::Float32,
                     {images(), wanted.channels()});
}

} // namespace layerscope
