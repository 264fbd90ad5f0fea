// merge: the shards of one extract job (--shard I/N) back into one output in data-set order, checked
// against their manifests: the same job, every shard once, every row of the data set once.

#include "formats/hdf5file_p.h"
#include "formats/matfile_p.h"
#include "layerscope/error.h"
#include "layerscope/exporters.h"
#include "layerscope/extraction.h"
#include "layerscope/npy.h"
#include "layerscope/ptfile.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <stdexcept>
#include <vector>

namespace layerscope {

namespace {

using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

struct Shard {
    std::string path;
    Json manifest;
    std::map<std::string, Tensor> arrays;
};

// Every field merge reads, with its type: a damaged or crafted manifest is named here, not met later.
void checkManifestFields(const Json& manifest)
{
    (void)manifest.at("model").at("sha256").get<std::string>();
    for (const char* key : {"index", "count", "dataset_size"})
        (void)manifest.at("shard").at(key).get<std::int64_t>();
    const std::int64_t count = manifest.at("shard").at("count").get<std::int64_t>();
    if (count < 1 || count > 1000000)
        throw std::out_of_range("shard count " + std::to_string(count));
    for (const Json& row : manifest.at("rows")) {
        (void)row.at("row").get<std::int64_t>();
        (void)row.at("dataset_index").get<std::int64_t>();
        for (const Json& file : row.value("files", Json::array()))
            (void)file.get<std::string>();
    }
    for (const Json& capture : manifest.at("captures")) {
        (void)capture.at("name").get<std::string>();
        (void)capture.at("dtype").get<std::string>();
        (void)capture.at("shape").get<std::vector<std::int64_t>>();
        if (capture.contains("stored_as"))
            (void)capture.at("stored_as").get<std::string>();
    }
}

Json readManifest(const std::string& shard)
{
    const std::string path = manifestPathFor(shard);
    std::ifstream file(path);
    if (!file)
        throw Error(shard + ": no manifest beside it (" + path + "); merge takes the outputs of extract --shard");
    try {
        Json manifest = Json::parse(file);
        checkManifestFields(manifest);
        return manifest;
    } catch (const std::exception& e) {
        throw Error(path + ": not a LayerScope extract manifest, or a damaged one (" + e.what() + ")");
    }
}

std::map<std::string, Tensor> readArrays(const std::string& shard, const Json& manifest)
{
    std::map<std::string, Tensor> arrays;
    const ExportFormat format = exportFormatFor(shard);
    if (format == ExportFormat::Npz || format == ExportFormat::Pt) {
        for (NamedTensor& named : format == ExportFormat::Npz ? readNpz(shard) : readPt(shard))
            arrays[named.name] = std::move(named.tensor);
    } else if (format == ExportFormat::NpyFolder) {
        for (const Json& capture : manifest.at("captures")) {
            const std::string name = capture.at("name").get<std::string>();
            const std::string file = capture.value("stored_as", name + ".npy");
            arrays[name] = readNpy((fs::path(shard) / file).string());
        }
    } else if (format == ExportFormat::Hdf5) {
        std::vector<std::string> names;
        for (const Json& capture : manifest.at("captures"))
            names.push_back(capture.at("name").get<std::string>());
        // gzip inflates at most about 1032:1: a dataset may not declare more than that of the file's size.
        std::error_code error;
        const std::uint64_t fileBytes = fs::file_size(shard, error);
        std::vector<Tensor> tensors = detail::readHdf5Datasets(shard, names, error ? 0 : fileBytes * 1100 + (1u << 20));
        for (std::size_t i = 0; i < names.size(); ++i)
            arrays[names[i]] = std::move(tensors[i]);
    } else if (format == ExportFormat::Mat) {
        std::vector<std::string> names, variables;
        for (const Json& capture : manifest.at("captures")) {
            names.push_back(capture.at("name").get<std::string>());
            variables.push_back(capture.value("stored_as", names.back()));
        }
        // v5 may compress with zlib and v7.3 with HDF5's gzip: bounded as for .h5.
        std::error_code error;
        const std::uint64_t fileBytes = fs::file_size(shard, error);
        std::vector<Tensor> tensors
            = detail::readMatVariables(shard, variables, error ? 0 : fileBytes * 1100 + (1u << 20));
        for (std::size_t i = 0; i < names.size(); ++i) {
            const auto shape = manifest.at("captures")[i].at("shape").get<std::vector<std::int64_t>>();
            Tensor declared {shape, tensors[i].dtype, nullptr};
            if (tensors[i].numel() == declared.numel())
                tensors[i].shape = shape; // a 1-D capture is a 1 x N row in MATLAB
            arrays[names[i]] = std::move(tensors[i]);
        }
    } else {
        throw Error(shard + ": merge reads .npz, .pt, .h5, .mat and folders of .npy files, not "
                    + exportFormatName(format)
                    + "; write the shards as .npz or .h5 (any format can be the merged output)");
    }
    return arrays;
}

// What must be equal in every shard's manifest for them to be one job's shards.
void checkSameJob(const Shard& first, const Shard& other)
{
    auto same = [&](const char* what, const Json& a, const Json& b) {
        if (a != b)
            throw Error(other.path + " is not a shard of the job " + first.path + " is from: its " + what + " differs ("
                        + b.dump() + " vs " + a.dump() + ")");
    };
    const Json& a = first.manifest;
    const Json& b = other.manifest;
    same("model (SHA-256)", a.at("model").at("sha256"), b.at("model").at("sha256"));
    same("inputs", a.at("inputs"), b.at("inputs"));
    same("preprocessing", a.value("preprocessing", Json()), b.value("preprocessing", Json()));
    same("recursive", a.value("recursive", Json()), b.value("recursive", Json()));
    same("shard count", a.at("shard").at("count"), b.at("shard").at("count"));
    same("data set size", a.at("shard").at("dataset_size"), b.at("shard").at("dataset_size"));
    same("reduce (--pool, --dtype)", a.value("reduce", Json()), b.value("reduce", Json()));
    same("method", a.value("method", Json()), b.value("method", Json()));
    auto captures = [](const Json& manifest) { // names, dtypes and shapes after the row axis
        Json list = Json::array();
        for (const Json& c : manifest.at("captures")) {
            Json shape = c.at("shape");
            shape.erase(0);
            list.push_back({c.at("name"), c.at("dtype"), shape});
        }
        return list;
    };
    same("captures", captures(a), captures(b));
}

struct Row {
    std::int64_t datasetIndex;
    std::size_t shard;
    std::int64_t row;
    Json files;
};

} // namespace

MergeResult mergeShards(const std::vector<std::string>& shardPaths, const std::string& outputPath)
{
    if (shardPaths.empty())
        throw Error("merge: no shards given");
    std::vector<Shard> shards;
    for (const std::string& path : shardPaths) {
        Shard shard {path, readManifest(path), {}};
        if (shard.manifest.value("cancelled", false))
            throw Error(path + ": this shard was interrupted (its manifest says cancelled): run it again first");
        if (!shard.manifest.contains("shard") || !shard.manifest.contains("rows"))
            throw Error(manifestPathFor(path) + ": not an extract manifest (no shard or rows)");
        if (!shards.empty())
            checkSameJob(shards.front(), shard);
        shards.push_back(std::move(shard));
    }
    // Every shard exactly once.
    const int count = shards.front().manifest.at("shard").at("count").get<int>();
    std::map<int, std::string> byIndex;
    for (const Shard& shard : shards) {
        const int index = shard.manifest.at("shard").at("index").get<int>();
        if (!byIndex.emplace(index, shard.path).second)
            throw Error("shard " + std::to_string(index) + "/" + std::to_string(count)
                        + " is given twice: " + byIndex[index] + " and " + shard.path);
    }
    std::string missing;
    for (int index = 0; index < count; ++index)
        if (!byIndex.count(index))
            missing += (missing.empty() ? "" : ", ") + std::to_string(index) + "/" + std::to_string(count);
    if (!missing.empty())
        throw Error("missing shard" + std::string(missing.find(',') != std::string::npos ? "s " : " ") + missing
                    + " of the job (" + std::to_string(shards.size()) + " of " + std::to_string(count) + " given)");

    // Every row of the data set once: written rows plus skipped inputs make the data set.
    std::vector<Row> rows;
    Json skipped = Json::array();
    std::map<std::int64_t, std::string> seen;
    for (std::size_t s = 0; s < shards.size(); ++s) {
        for (const Json& row : shards[s].manifest.at("rows")) {
            const std::int64_t index = row.at("dataset_index").get<std::int64_t>();
            if (!seen.emplace(index, shards[s].path).second)
                throw Error("data-set row " + std::to_string(index) + " is in two shards: " + seen[index] + " and "
                            + shards[s].path);
            rows.push_back({index, s, row.at("row").get<std::int64_t>(), row.value("files", Json::array())});
        }
        for (const Json& entry : shards[s].manifest.value("skipped_inputs", Json::array()))
            skipped.push_back(entry);
    }
    const std::int64_t datasetSize = shards.front().manifest.at("shard").at("dataset_size").get<std::int64_t>();
    if (std::int64_t(rows.size() + skipped.size()) != datasetSize)
        throw Error("the shards hold " + std::to_string(rows.size()) + " rows and " + std::to_string(skipped.size())
                    + " skipped inputs, but the data set has " + std::to_string(datasetSize) + " rows");
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.datasetIndex < b.datasetIndex; });

    // The arrays in data-set order.
    for (Shard& shard : shards)
        shard.arrays = readArrays(shard.path, shard.manifest);
    std::vector<NamedTensor> merged;
    for (const Json& capture : shards.front().manifest.at("captures")) {
        const std::string name = capture.at("name").get<std::string>();
        const Tensor& like = shards.front().arrays.at(name);
        std::vector<std::int64_t> shape = like.shape;
        shape[0] = std::int64_t(rows.size());
        Tensor all = Tensor::zeros(shape, like.dtype);
        const std::size_t rowBytes = like.shape[0] ? like.nbytes() / std::size_t(like.shape[0]) : 0;
        for (std::size_t r = 0; r < rows.size(); ++r) {
            const Tensor& from = shards[rows[r].shard].arrays.at(name);
            if (rows[r].row < 0 || rows[r].row >= from.shape[0])
                throw Error(shards[rows[r].shard].path + ": '" + name + "' has " + std::to_string(from.shape[0])
                            + " rows, but its manifest names row " + std::to_string(rows[r].row));
            std::memcpy(static_cast<char*>(all.mutableData()) + r * rowBytes,
                        static_cast<const char*>(from.data.get()) + std::size_t(rows[r].row) * rowBytes, rowBytes);
        }
        merged.push_back({name, all});
    }

    CaptureWriter writer(outputPath);
    writer.append(merged);
    writer.startManifestRows();
    for (std::size_t r = 0; r < rows.size(); ++r)
        writer.addManifestRow(Json({{"row", r}, {"dataset_index", rows[r].datasetIndex}, {"files", rows[r].files}})
                                  .dump(-1, ' ', false, Json::error_handler_t::replace));
    Json manifest = shards.front().manifest;
    manifest.erase("rows");
    manifest.erase("timing");
    manifest.erase("seconds");
    manifest["shard"] = {{"index", 0}, {"count", 1}, {"dataset_size", datasetSize}};
    manifest["merged_from"] = shardPaths;
    manifest["skipped_inputs"] = skipped;
    manifest["output"] = {{"path", fs::absolute(outputPath).string()}, {"format", exportFormatName(writer.format())}};
    Json captures = Json::array();
    for (const CaptureSummary& c : writer.summary()) {
        Json entry = {{"name", c.name}, {"shape", c.shape}, {"dtype", dtypeName(c.dtype)}};
        if (!c.storedAs.empty())
            entry["stored_as"] = c.storedAs;
        captures.push_back(entry);
    }
    manifest["captures"] = captures;
    MergeResult result;
    result.notes = writer.commit(manifest.dump(1, ' ', false, Json::error_handler_t::replace), [&](std::int64_t row) {
        const Json& files = rows[std::size_t(row)].files;
        return files.empty() ? std::to_string(row) : files.front().get<std::string>();
    });
    result.rows = std::int64_t(rows.size());
    result.shards = int(shards.size());
    result.outputPath = outputPath;
    result.manifestPath = manifestPathFor(outputPath);
    result.captures = merged.size();
    return result;
}

} // namespace layerscope
