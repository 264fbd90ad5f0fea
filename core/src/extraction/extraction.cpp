#include "layerscope/extraction.h"

#include "extraction/batchloader_p.h"
#include "paths_p.h"
#include "model/modelfile_p.h"
#include "layerscope/error.h"
#include "layerscope/npy.h"

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

namespace layerscope {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace {

enum class SourceKind { Image, Folder, Tensor };

struct Source {
    SourceKind kind;
    std::string path;
    std::vector<std::string> files; // Folder
    layerscope::Tensor tensor;      // Tensor (.npy)
};

Source openSource(const std::string& path, bool recursive, const Preprocessing& preprocessing)
{
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
        Source source{SourceKind::Folder, path, listImages(path, recursive), {}};
        if (source.files.empty())
            throw Error(path + ": no images in this folder (PNG, JPEG, BMP, TIFF, WebP)"
                        + std::string(recursive ? "" : "; --recursive looks in subfolders"));
        return source;
    }
    if (detail::lowerExtension(path) == ".npy")
        return {SourceKind::Tensor, path, {}, readNpy(path)};
    if (isImageFile(path)) {
        loadImage(path, preprocessing); // fail now, with the file's name, rather than inside a batch
        return {SourceKind::Image, path, {}, {}};
    }
    if (!fs::exists(path, ec))
        throw Error(path + ": no such file or folder");
    throw Error(path + ": not an input LayerScope reads (an image, a folder of images, or an .npy tensor)");
}

Tensor stack(const std::vector<const Tensor*>& samples)
{
    std::vector<std::int64_t> shape{std::int64_t(samples.size())};
    shape.insert(shape.end(), samples[0]->shape.begin(), samples[0]->shape.end());
    Tensor batch = Tensor::zeros(shape, samples[0]->dtype);
    char* out = static_cast<char*>(batch.mutableData());
    for (const Tensor* sample : samples) {
        std::memcpy(out, sample->data.get(), sample->nbytes());
        out += sample->nbytes();
    }
    return batch;
}

std::string isoTimeNow()
{
    const std::time_t now = std::time(nullptr);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    return text;
}

std::vector<NamedTensor> namedCaptures(const RunResult& result)
{
    std::vector<NamedTensor> named;
    for (const auto* list : {&result.captures, &result.outputs}) {
        for (const auto& capture : *list)
            named.push_back({capture.key, capture.tensor});
    }
    return named;
}

} // namespace

std::string layerscopeVersion() { return LAYERSCOPE_VERSION; }

std::string sha256OfFile(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(path + ": cannot be read");
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr);
    std::vector<char> buffer(1 << 20);
    while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        EVP_DigestUpdate(context.get(), buffer.data(), static_cast<std::size_t>(in.gcount()));
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(context.get(), digest, &length);
    std::string hex;
    char pair[3];
    for (unsigned int i = 0; i < length; ++i) {
        std::snprintf(pair, sizeof pair, "%02x", digest[i]);
        hex += pair;
    }
    return hex;
}

using ModelFuture = std::shared_future<std::shared_ptr<const Model>>;

namespace {

// `control`, when given, also stops a forward between its modules (a big batch need not finish).
ExtractionResult extract(const std::string& modelPath, const ModelFuture& modelFuture, const ExtractionJob& job,
                         const ProgressCallback& progress, const JobControl* control = nullptr)
{
    const auto started = std::chrono::steady_clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };
    if (job.batchSize < 1)
        throw Error("the batch size must be at least 1");
    if (job.shardCount < 1 || job.shardIndex < 0 || job.shardIndex >= job.shardCount)
        throw Error("shard " + std::to_string(job.shardIndex) + "/" + std::to_string(job.shardCount)
                    + " does not exist: use I/N with 0 <= I < N");

    // An unwritable output fails before any work.
    const auto writer = job.onBatch ? nullptr : std::make_unique<CaptureWriter>(job.outputPath, job.exportOptions);
    // The manifest's model hash is read while the images decode and the model runs.
    std::future<std::string> modelHash = std::async(std::launch::async, [modelPath] { return sha256OfFile(modelPath); });
    std::vector<Source> sources;
    for (const auto& input : job.inputs)
        sources.push_back(openSource(input, job.recursive, job.preprocessing));

    // Samples: folders are paired file by file; images and .npy rows of one are shared by every sample.
    std::int64_t datasetSize = -1;
    for (const auto& source : sources) {
        if (source.kind != SourceKind::Folder)
            continue;
        const auto n = std::int64_t(source.files.size());
        if (datasetSize >= 0 && n != datasetSize)
            throw Error(source.path + ": " + std::to_string(n) + " images, but " + sources[0].path + " has "
                        + std::to_string(datasetSize) + "; folders given for several arguments are paired file by file");
        datasetSize = n;
    }
    const bool folderRun = datasetSize >= 0;
    for (const auto& source : sources) {
        if (folderRun && source.kind == SourceKind::Tensor && !source.tensor.shape.empty()
            && source.tensor.shape[0] != 1 && source.tensor.shape[0] != datasetSize)
            throw Error(source.path + ": " + shapeToString(source.tensor.shape) + " has neither 1 row (shared by every "
                        + "image) nor one row per image (" + std::to_string(datasetSize) + ")");
    }

    std::vector<std::int64_t> datasetRows; // this shard's rows of the data set
    for (std::int64_t i = job.shardIndex; i < std::max<std::int64_t>(datasetSize, 1); i += job.shardCount)
        datasetRows.push_back(i);
    auto filesOf = [&](std::int64_t row) {
        std::vector<std::string> files;
        for (const auto& source : sources)
            files.push_back(source.kind == SourceKind::Folder ? source.files[std::size_t(row)] : source.path);
        return files;
    };

    auto loadSample = [&](std::int64_t position) {
        detail::LoadedSample sample;
        const std::int64_t row = datasetRows[std::size_t(position)];
        for (const auto& source : sources) {
            switch (source.kind) {
            case SourceKind::Folder:
                sample.tensors.push_back(loadImage(source.files[std::size_t(row)], job.preprocessing));
                break;
            case SourceKind::Image: {
                Tensor image = loadImage(source.path, job.preprocessing);
                if (!folderRun) // a single forward: the image is a batch of one
                    image.shape.insert(image.shape.begin(), 1);
                sample.tensors.push_back(image);
                break;
            }
            case SourceKind::Tensor: {
                Tensor tensor = source.tensor;
                if (folderRun && !tensor.shape.empty()) {
                    tensor = rowsOf(tensor, tensor.shape[0] == 1 ? 0 : row, 1);
                    tensor.shape.erase(tensor.shape.begin());
                }
                sample.tensors.push_back(tensor);
                break;
            }
            }
        }
        return sample;
    };

    const int cores = std::max(1u, std::thread::hardware_concurrency());
    const int decodeThreads = job.decodeThreads > 0 ? job.decodeThreads : std::max(1, cores / 2);
    const auto total = folderRun ? std::int64_t(datasetRows.size()) : std::int64_t(1);
    detail::BatchLoader loader(total, folderRun ? job.batchSize : 1, decodeThreads, 2, loadSample);

    // The first batches decode while the model loads.
    const Model& model = *modelFuture.get();
    model.checkInputCount(job.inputs.size());
    CaptureRequest request = job.request;
    if (job.allModules) {
        for (const auto& m : model.modules()) {
            if (!m.name.empty() && m.hasForward)
                request.outputsOf.push_back(m.name);
        }
    }
    if (job.withInputs)
        request.inputsOf.insert(request.inputsOf.end(), request.outputsOf.begin(), request.outputsOf.end());

    ExtractionResult result;
    // What the end of the run needs of each row: its row in the data set (its files come from the
    // sorted file lists). The manifest's rows go to the writer's staging folder as they come.
    std::vector<std::int64_t> rowDatasetIndex;
    if (writer)
        writer->startManifestRows();
    std::future<void> pendingWrite;
    std::vector<Tensor> firstShapes; // every sample of a batch must match the first sample's shapes
    ExtractionProgress state;
    state.total = total;

    auto timed = [](double& total, auto&& action) {
        const auto start = std::chrono::steady_clock::now();
        action();
        total += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    for (;;) {
        std::vector<detail::LoadedSample> batch;
        timed(result.inputWaitSeconds, [&] { batch = loader.next(); });
        if (batch.empty())
            break;
        std::vector<std::size_t> good;
        for (std::size_t i = 0; i < batch.size(); ++i) {
            auto& sample = batch[i];
            const std::int64_t row = datasetRows[std::size_t(sample.index)];
            if (sample.error.empty() && folderRun) {
                if (firstShapes.empty())
                    firstShapes = sample.tensors;
                for (std::size_t a = 0; a < sample.tensors.size() && sample.error.empty(); ++a) {
                    if (sample.tensors[a].shape != firstShapes[a].shape)
                        sample.error = filesOf(row)[a] + ": preprocessed to " + shapeToString(sample.tensors[a].shape)
                            + " but the first image to " + shapeToString(firstShapes[a].shape)
                            + "; give --resize so that every image has one size";
                }
            }
            if (!sample.error.empty()) {
                if (!folderRun)
                    throw Error(sample.error);
                result.skippedInputs.push_back({filesOf(row), sample.error});
                continue;
            }
            good.push_back(i);
        }

        if (!good.empty()) {
            std::vector<Tensor> inputs;
            if (folderRun) {
                for (std::size_t a = 0; a < sources.size(); ++a) {
                    std::vector<const Tensor*> column;
                    for (std::size_t i : good)
                        column.push_back(&batch[i].tensors[a]);
                    inputs.push_back(stack(column));
                }
            } else {
                inputs = batch[0].tensors;
            }
            for (std::size_t a = 0; a < inputs.size(); ++a) // numpy saves float64 by default, pixels as uint8
                inputs[a] = prepareArrayInput(model, inputs[a], a < job.inputs.size() ? job.inputs[a] : std::string());
            RunResult run;
            try {
                timed(result.forwardSeconds, [&] { run = model.run(inputs, request, control); });
            } catch (const Cancelled&) {
                result.cancelled = true; // what was written stays complete: this batch is not
                break;
            }
            if (result.rows == 0) {
                result.notExecuted = run.notExecuted;
                result.skippedValues = run.skipped;
            }
            if (pendingWrite.valid()) // the previous batch is on disk (or its error is thrown here)
                timed(result.writeWaitSeconds, [&] { pendingWrite.get(); });
            if (job.onBatch) {
                auto done = std::make_shared<ExtractionBatch>();
                for (std::size_t i : good) {
                    done->datasetRows.push_back(datasetRows[std::size_t(batch[i].index)]);
                    done->files.push_back(filesOf(done->datasetRows.back()));
                }
                done->datasetSize = folderRun ? datasetSize : 1;
                done->run = std::make_shared<const RunResult>(run);
                pendingWrite = std::async(std::launch::async, [&job, done] { job.onBatch(*done); });
            } else {
                auto named = std::make_shared<std::vector<NamedTensor>>(namedCaptures(run));
                pendingWrite = std::async(std::launch::async, [&writer, named] { writer->append(*named); });
            }
            for (std::size_t i : good) {
                const std::int64_t row = datasetRows[std::size_t(batch[i].index)];
                Json entry = Json::object();
                entry["row"] = result.rows++;
                if (folderRun)
                    entry["dataset_index"] = row;
                entry["files"] = filesOf(row);
                if (writer)
                    writer->addManifestRow(entry.dump(-1, ' ', false, Json::error_handler_t::replace));
                rowDatasetIndex.push_back(row);
            }
        }
        state.done += std::int64_t(batch.size());
        state.skipped = std::int64_t(result.skippedInputs.size());
        state.seconds = elapsed();
        if (progress && !progress(state) && state.done < state.total) {
            result.cancelled = true;
            break;
        }
    }
    if (pendingWrite.valid())
        timed(result.writeWaitSeconds, [&] { pendingWrite.get(); });
    if (result.rows == 0 && !result.cancelled)
        throw Error("no input could be read: " + (result.skippedInputs.empty() ? std::string("nothing to do")
                                                                               : result.skippedInputs[0].reason));

    result.seconds = elapsed();
    if (!writer)
        return result; // onBatch had every batch
    result.captures = writer->summary();
    if (!folderRun && !result.captures.empty())
        result.rows = result.captures.front().shape[0]; // the .npy inputs' own batch axis

    Json manifest = Json::object();
    manifest["layerscope_version"] = layerscopeVersion();
    manifest["created"] = isoTimeNow();
    manifest["model"] = {{"path", fs::absolute(model.path()).string()}, {"sha256", modelHash.get()},
                         {"signature", model.signature()}};
    Json inputs = Json::array();
    for (std::size_t a = 0; a < sources.size(); ++a) {
        const char* kind = sources[a].kind == SourceKind::Folder ? "folder" : sources[a].kind == SourceKind::Image ? "image" : "npy";
        inputs.push_back({{"argument", a < model.forwardArguments().size() ? model.forwardArguments()[a].name : ""},
                          {"kind", kind}, {"path", fs::absolute(sources[a].path).string()}});
    }
    manifest["inputs"] = inputs;
    manifest["preprocessing"] = Json::parse(job.preprocessing.toJson());
    manifest["preprocessing_description"] = job.preprocessing.describe();
    manifest["batch_size"] = job.batchSize;
    manifest["recursive"] = job.recursive;
    manifest["shard"] = {{"index", job.shardIndex}, {"count", job.shardCount},
                         {"dataset_size", folderRun ? datasetSize : 1}};
    manifest["output"] = {{"path", fs::absolute(writer->path()).string()}, {"format", exportFormatName(writer->format())}};
    Json captures = Json::array();
    for (const auto& capture : result.captures) {
        Json entry = {{"name", capture.name}, {"shape", capture.shape}, {"dtype", dtypeName(capture.dtype)}};
        if (!capture.storedAs.empty())
            entry["stored_as"] = capture.storedAs;
        captures.push_back(entry);
    }
    manifest["captures"] = captures;
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
    manifest["timing"] = {{"forward_seconds", result.forwardSeconds}, {"input_wait_seconds", result.inputWaitSeconds},
                          {"write_wait_seconds", result.writeWaitSeconds}, {"decode_threads", decodeThreads}};

    result.notes = writer->commit(manifest.dump(1, ' ', false, Json::error_handler_t::replace), [&](std::int64_t r) {
        return r < std::int64_t(rowDatasetIndex.size()) ? filesOf(rowDatasetIndex[std::size_t(r)])[0] : std::to_string(r);
    });
    result.outputPath = writer->path();
    result.manifestPath = manifestPathFor(writer->path());
    return result;
}

} // namespace

ExtractionResult runExtraction(const Model& model, const ExtractionJob& job, const ProgressCallback& progress)
{
    std::promise<std::shared_ptr<const Model>> ready;
    ready.set_value(std::shared_ptr<const Model>(&model, [](const Model*) {})); // borrowed, not owned
    return extract(model.path(), ready.get_future().share(), job, progress);
}

ExtractionResult runExtraction(const Model& model, const ExtractionJob& job, const JobControl& control)
{
    control.cancel.throwIfCancelled(); // cancelled before it started: nothing to keep
    std::promise<std::shared_ptr<const Model>> ready;
    ready.set_value(std::shared_ptr<const Model>(&model, [](const Model*) {}));
    const ProgressCallback progress = [&control](const ExtractionProgress& p) {
        control.report(p.done, p.total, "images");
        return !control.cancel.cancelled();
    };
    return extract(model.path(), ready.get_future().share(), job, progress, &control);
}

ExtractionResult runExtraction(const std::string& modelPath, const ExtractionJob& job, const ProgressCallback& progress)
{
    detail::checkModelFile(modelPath, job.trustModel);
    LoadOptions options;
    options.trustModel = job.trustModel;
    const ModelFuture model = std::async(std::launch::async, [modelPath, options] {
        return std::shared_ptr<const Model>(std::make_shared<Model>(Model::load(modelPath, options)));
    }).share();
    try {
        return extract(modelPath, model, job, progress);
    } catch (...) {
        model.get(); // a model that failed to load is the error to report, not what it caused
        throw;
    }
}

} // namespace layerscope
