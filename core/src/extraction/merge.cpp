// merge: the shards of one extract job (--shard I/N) back into one output in data-set order, checked
// against their manifests: the same job, every shard once, every row of the data set once.

#include "extraction/rowspool_p.h"
#include "extraction/shardrows_p.h"
#include "formats/staging_p.h"
#include "layerscope/error.h"
#include "layerscope/exporters.h"
#include "layerscope/extraction.h"
#include "layerscope/job.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <stdexcept>
#include <vector>

#include <sys/resource.h>

namespace layerscope {

namespace {

using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

struct Shard {
    std::string path;
    Json manifest;                                             // without its rows, which are in merge's RowSpool
    std::vector<std::unique_ptr<detail::NpyRowFile>> captures; // in the first shard's manifest order
};

// Output rows a block: a few MiB in memory whatever the data set's size (rows are read one by one).
constexpr std::size_t kBlockBytes = std::size_t(8) << 20;

// Every field merge reads, with its type: a damaged or crafted manifest is named here, not met later.
void checkManifestFields(const Json& manifest)
{
    (void)manifest.at("model").at("sha256").get<std::string>();
    for (const char* key : {"index", "count", "dataset_size"})
        (void)manifest.at("shard").at(key).get<std::int64_t>();
    const std::int64_t count = manifest.at("shard").at("count").get<std::int64_t>();
    if (count < 1 || count > 1000000)
        throw std::out_of_range("shard count " + std::to_string(count));
    if (!manifest.at("rows").is_array())
        throw std::invalid_argument("its rows are not an array");
    for (const Json& capture : manifest.at("captures")) {
        (void)capture.at("name").get<std::string>();
        (void)capture.at("dtype").get<std::string>();
        (void)capture.at("shape").get<std::vector<std::int64_t>>();
        if (capture.contains("stored_as"))
            (void)capture.at("stored_as").get<std::string>();
    }
}

// The manifest beside `shard`, its rows moved to `rows` as they are parsed: a data set of a million
// images has a million rows, which as parsed JSON would take about 800 bytes each.
Json readManifest(const std::string& shard, detail::RowSpool& rows)
{
    const std::string path = manifestPathFor(shard);
    std::ifstream file(path);
    if (!file)
        throw Error(shard + ": no manifest beside it (" + path + "); merge takes the outputs of extract --shard");
    rows.beginShard();
    try {
        std::string key; // of the top-level object
        Json manifest = Json::parse(file, [&](int depth, Json::parse_event_t event, Json& parsed) {
            if (depth == 1 && event == Json::parse_event_t::key)
                key = parsed.get<std::string>();
            if (depth != 2 || key != "rows" || event != Json::parse_event_t::object_end)
                return true;
            Json files = parsed.value("files", Json::array());
            for (const Json& name : files)
                (void)name.get<std::string>();
            rows.add({parsed.at("dataset_index").get<std::int64_t>(), parsed.at("row").get<std::int64_t>(),
                      files.dump(-1, ' ', false, Json::error_handler_t::replace)});
            return false; // not kept in the manifest
        });
        checkManifestFields(manifest);
        return manifest;
    } catch (const Error&) { // the row list could not be written
        throw;
    } catch (const std::exception& e) {
        throw Error(path + ": not a LayerScope extract manifest, or a damaged one (" + e.what() + ")");
    }
}

// Every row of the data set once, read in data-set order from the spooled manifests (before any array is
// read): an index outside the data set, or one that two shards hold, is named.
void checkRowsOnce(const detail::RowSpool& rows, const std::vector<Shard>& shards, std::int64_t datasetSize)
{
    const auto merged = rows.merge();
    detail::ManifestRow row;
    std::size_t shard = 0, previousShard = 0;
    std::int64_t previous = -1;
    while (merged->next(row, shard)) {
        if (row.datasetIndex < 0 || row.datasetIndex >= datasetSize)
            throw Error(manifestPathFor(shards[shard].path) + ": names data-set row " + std::to_string(row.datasetIndex)
                        + ", but the data set has " + std::to_string(datasetSize) + " rows");
        if (row.datasetIndex == previous)
            throw Error("data-set row " + std::to_string(row.datasetIndex)
                        + " is in two shards: " + shards[previousShard].path + " and " + shards[shard].path);
        previous = row.datasetIndex;
        previousShard = shard;
    }
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

// Where a shard keeps each capture (its file or variable, its shape), by its own manifest: shards of one
// job may come in different formats, which store names differently.
std::vector<detail::ShardCapture> shardCaptures(const Shard& shard, const std::vector<std::string>& names)
{
    std::vector<detail::ShardCapture> captures;
    for (const std::string& name : names) {
        const Json* found = nullptr;
        for (const Json& capture : shard.manifest.at("captures"))
            if (capture.at("name").get<std::string>() == name)
                found = &capture;
        if (!found) // checkSameJob compared the names: a manifest changed since
            throw Error(manifestPathFor(shard.path) + ": no capture '" + name + "'");
        captures.push_back(
            {name, found->value("stored_as", std::string()), found->at("shape").get<std::vector<std::int64_t>>()});
    }
    return captures;
}

// A shard's file must hold what the first shard's does: a crafted or damaged one is named, not misread.
void checkSameArray(const Shard& first, const Shard& other, std::size_t c, const std::string& name)
{
    const detail::NpyRowFile &a = *first.captures[c], &b = *other.captures[c];
    std::vector<std::int64_t> rowA(a.shape().begin() + 1, a.shape().end()),
        rowB(b.shape().begin() + 1, b.shape().end());
    if (a.dtype() != b.dtype() || rowA != rowB)
        throw Error(other.path + ": '" + name + "' holds rows of " + shapeToString(rowB) + " " + dtypeName(b.dtype())
                    + ", but " + first.path + " rows of " + shapeToString(rowA) + " " + dtypeName(a.dtype()));
}

// Every shard's captures stay open while rows are read in data-set order, which visits the shards in turn:
// a job array of a thousand tasks needs thousands of files at once, more than the usual soft limit (1024).
// The soft limit is raised up to the hard one, as far as needed.
void allowOpenFiles(std::size_t files, std::size_t shards, std::size_t captures)
{
    const rlim_t needed = rlim_t(files) + 64; // with the writer's staged arrays: the manifest, libraries
    struct rlimit limit;
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= needed)
        return;
    const rlim_t hard = limit.rlim_max;
    limit.rlim_cur = (hard == RLIM_INFINITY || hard >= needed) ? needed : hard;
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur < needed)
        throw Error("merge: " + std::to_string(shards) + " shards of " + std::to_string(captures) + " captures keep "
                    + std::to_string(files) + " files open at once, but this process may open only "
                    + std::to_string(hard) + " (ulimit -Hn): raise the limit, or capture fewer modules a shard");
}

} // namespace

MergeResult mergeShards(const std::vector<std::string>& shardPaths, const std::string& outputPath,
                        const ProgressCallback& progress)
{
    const auto started = std::chrono::steady_clock::now();
    auto report = [&](std::size_t done, std::size_t total) {
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        if (progress && !progress({std::int64_t(done), std::int64_t(total), 0, seconds}))
            throw Cancelled();
    };
    if (shardPaths.empty())
        throw Error("merge: no shards given");
    // The staging folder keeps the row list, and shards of formats that cannot be read in place as .npy.
    detail::StagingFolder staging(outputPath);
    detail::RowSpool rows(staging.path() + "/rows");
    std::vector<Shard> shards;
    for (const std::string& path : shardPaths) {
        Shard shard {path, {}, {}};
        shard.manifest = readManifest(path, rows);
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
    Json skipped = Json::array();
    for (const Shard& shard : shards)
        for (const Json& entry : shard.manifest.value("skipped_inputs", Json::array()))
            skipped.push_back(entry);
    const std::int64_t datasetSize = shards.front().manifest.at("shard").at("dataset_size").get<std::int64_t>();
    checkRowsOnce(rows, shards, datasetSize);
    const std::size_t rowCount = rows.totalRows();
    if (std::int64_t(rowCount + skipped.size()) != datasetSize)
        throw Error("the shards hold " + std::to_string(rowCount) + " rows and " + std::to_string(skipped.size())
                    + " skipped inputs, but the data set has " + std::to_string(datasetSize) + " rows");

    // The arrays in data-set order, a block of rows at a time, read where they lie in each shard.
    std::vector<std::string> captures; // in the first shard's order; each shard's manifest says where they are
    for (const Json& capture : shards.front().manifest.at("captures"))
        captures.push_back(capture.at("name").get<std::string>());
    allowOpenFiles((shards.size() + 1) * captures.size(), shards.size(), captures.size()); // +1: the writer
    for (std::size_t s = 0; s < shards.size(); ++s) {
        report(0, rowCount); // unpacking a shard can take a while: Ctrl-C is heard between shards
        shards[s].captures
            = detail::openShardRows(shards[s].path, shardCaptures(shards[s], captures), staging.path(), s);
        for (std::size_t c = 0; c < captures.size(); ++c) {
            checkSameArray(shards.front(), shards[s], c, captures[c]);
            const std::int64_t arrayRows = shards[s].captures[c]->rows();
            if (rows.rows(s) > 0 && (rows.minRow(s) < 0 || rows.maxRow(s) >= arrayRows))
                throw Error(shards[s].path + ": '" + captures[c] + "' has " + std::to_string(arrayRows)
                            + " rows, but its manifest names row "
                            + std::to_string(rows.minRow(s) < 0 ? rows.minRow(s) : rows.maxRow(s)));
        }
    }
    std::size_t bytesPerRow = 1;
    for (const auto& capture : shards.front().captures)
        bytesPerRow += capture->rowBytes();
    const std::size_t rowsPerBlock = std::max<std::size_t>(1, kBlockBytes / bytesPerRow);

    CaptureWriter writer(outputPath);
    // Only .csv and .png name their rows (after each row's input file); they hold every row anyway.
    const bool labelsRows = writer.format() == ExportFormat::Csv || writer.format() == ExportFormat::Png;
    std::vector<std::string> labels;
    writer.startManifestRows();
    const auto merged = rows.merge();
    std::vector<std::pair<std::size_t, std::int64_t>> blockRows; // shard, row in its arrays
    detail::ManifestRow row;
    std::size_t first = 0;
    do { // once at least: a data set whose every input was skipped gives arrays of no rows
        const std::size_t count = std::min(rowsPerBlock, rowCount - first);
        blockRows.clear();
        std::size_t shard = 0;
        for (std::size_t r = 0; r < count && merged->next(row, shard); ++r) {
            blockRows.emplace_back(shard, row.row);
            writer.addManifestRow("{\"row\":" + std::to_string(first + r) + ",\"dataset_index\":"
                                  + std::to_string(row.datasetIndex) + ",\"files\":" + row.files + "}");
            if (labelsRows) {
                const Json files = Json::parse(row.files);
                labels.push_back(files.empty() ? std::to_string(first + r) : files.front().get<std::string>());
            }
        }
        if (blockRows.size() != count) // the spool was read through once already: never
            throw Error("merge: the row list changed while it was read");
        std::vector<NamedTensor> block;
        for (std::size_t c = 0; c < captures.size(); ++c) {
            const detail::NpyRowFile& like = *shards.front().captures[c];
            std::vector<std::int64_t> shape = like.shape();
            shape[0] = std::int64_t(count);
            Tensor tensor = Tensor::zeros(shape, like.dtype());
            char* out = static_cast<char*>(tensor.mutableData());
            for (std::size_t r = 0; r < count; ++r)
                shards[blockRows[r].first].captures[c]->readRows(blockRows[r].second, 1, out + r * like.rowBytes());
            block.push_back({captures[c], std::move(tensor)});
        }
        writer.append(block);
        first += count;
        report(first, rowCount);
    } while (first < rowCount);
    Json manifest = shards.front().manifest;
    manifest.erase("rows");
    manifest.erase("timing");
    manifest.erase("seconds");
    manifest["shard"] = {{"index", 0}, {"count", 1}, {"dataset_size", datasetSize}};
    manifest["merged_from"] = shardPaths;
    manifest["skipped_inputs"] = skipped;
    manifest["output"] = {{"path", fs::absolute(outputPath).string()}, {"format", exportFormatName(writer.format())}};
    Json written = Json::array();
    for (const CaptureSummary& c : writer.summary()) {
        Json entry = {{"name", c.name}, {"shape", c.shape}, {"dtype", dtypeName(c.dtype)}};
        if (!c.storedAs.empty())
            entry["stored_as"] = c.storedAs;
        written.push_back(entry);
    }
    manifest["captures"] = written;
    MergeResult result;
    result.notes = writer.commit(manifest.dump(1, ' ', false, Json::error_handler_t::replace),
                                 [&](std::int64_t r) { return labels.at(std::size_t(r)); });
    result.rows = std::int64_t(rowCount);
    result.shards = int(shards.size());
    result.outputPath = outputPath;
    result.manifestPath = manifestPathFor(outputPath);
    result.captures = captures.size();
    return result;
}

} // namespace layerscope
