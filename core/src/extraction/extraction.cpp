#include "layerscope/extraction.h"

#include "extraction/batchloader_p.h"
#include "extraction/forwardstreams_p.h"
#include "extraction/manifest_p.h"
#include "extraction/reduction_p.h"
#include "formats/matfile_p.h"
#include "layerscope/error.h"
#include "layerscope/inputs.h"
#include "layerscope/npy.h"
#include "layerscope/runtime.h"
#include "model/modelfile_p.h"

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

namespace layerscope {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

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

// --- Plan: what runs, known before the model is: the inputs, this shard's rows of the data set.
struct Plan {
    InputSet inputs;
    std::vector<std::int64_t> rows; // this shard's data-set rows (one row, 0, without a folder)

    std::int64_t samples() const { return inputs.isFolderRun() ? std::int64_t(rows.size()) : 1; }
};

Plan plan(const ExtractionJob& job)
{
    if (job.batchSize < 1)
        throw Error("the batch size must be at least 1");
    if (job.shardCount < 1 || job.shardIndex < 0 || job.shardIndex >= job.shardCount)
        throw Error("shard " + std::to_string(job.shardIndex) + "/" + std::to_string(job.shardCount)
                    + " does not exist: use I/N with 0 <= I < N");
    Plan plan {InputSet(job.inputs, job.preprocessing, job.recursive), {}};
    if (!plan.inputs.isFolderRun() && job.shardCount > 1)
        throw Error("--shard " + std::to_string(job.shardIndex) + "/" + std::to_string(job.shardCount)
                    + " splits the images of a folder, but every input here is a single file (one forward)");
    for (std::int64_t i = job.shardIndex; i < plan.inputs.datasetSize(); i += job.shardCount)
        plan.rows.push_back(i);
    if (plan.rows.empty())
        throw Error("shard " + std::to_string(job.shardIndex) + "/" + std::to_string(job.shardCount)
                    + " has no images: " + std::to_string(plan.inputs.datasetSize())
                    + " in all, shard I takes images I, I+N, I+2N, ...");
    return plan;
}

CaptureRequest requestFor(const ExtractionJob& job, const Model& model)
{
    model.checkInputCount(job.inputs.size());
    CaptureRequest request = job.request;
    if (job.allModules) {
        for (const auto& m : model.modules())
            if (!m.name.empty() && m.hasForward && m.unavailable.empty()) // the manifest lists the others
                request.outputsOf.push_back(m.name);
    }
    if (job.withInputs)
        request.inputsOf.insert(request.inputsOf.end(), request.outputsOf.begin(), request.outputsOf.end());
    return request;
}

Tensor stack(const std::vector<const Tensor*>& samples)
{
    std::vector<std::int64_t> shape {std::int64_t(samples.size())};
    shape.insert(shape.end(), samples[0]->shape.begin(), samples[0]->shape.end());
    Tensor batch = Tensor::zeros(shape, samples[0]->dtype);
    char* out = static_cast<char*>(batch.mutableData());
    for (const Tensor* sample : samples) {
        std::memcpy(out, sample->data.get(), sample->nbytes());
        out += sample->nbytes();
    }
    return batch;
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

void timed(double& total, const std::function<void()>& action)
{
    const auto start = std::chrono::steady_clock::now();
    action();
    total += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// --- Run: batches decoded ahead by the loader, through the model, to the writer (or onBatch) while
// the next batch runs.
struct Run {
    const Plan& plan;
    const ExtractionJob& job;
    const Model& model;
    CaptureRequest request;
    CaptureWriter* writer; // null with job.onBatch
    const ProgressCallback& progress;
    const JobControl* control;

    ExtractionResult result;
    std::vector<std::int64_t> rowDatasetIndex; // what the end needs of each row written
    // --resume: plan positions done before this run, positions skipped, and the checkpoint state
    // after the batch being written (checkpointed once that batch is on disk).
    std::int64_t positionBase = 0;
    std::vector<std::int64_t> skippedPositions;
    std::string identity;
    std::string pendingState;
    std::vector<Tensor> firstShapes; // every sample must match the first one's shapes
    std::future<void> pendingWrite;

    // A batch from the loader whose forward is under way on one of the streams.
    struct InFlight {
        std::vector<detail::LoadedSample> batch;
        std::vector<std::size_t> good;
        std::shared_ptr<RunResult> run = std::make_shared<RunResult>();
        std::shared_ptr<double> seconds = std::make_shared<double>(0);
        std::future<void> forward; // not valid when no sample of the batch was usable
    };

    // Samples that cannot join the batch (unreadable, another size) get their reason; the others'
    // positions are returned. The skipped are recorded once their batch is done (recordSkipped).
    std::vector<std::size_t> usable(std::vector<detail::LoadedSample>& batch);
    void recordSkipped(const std::vector<detail::LoadedSample>& batch);
    std::vector<Tensor> modelInputs(const std::vector<detail::LoadedSample>& batch,
                                    const std::vector<std::size_t>& good) const;
    void checkOutputCanHoldAll(const RunResult& first) const;
    ForwardBatch forwardBatch(const std::vector<detail::LoadedSample>& batch, const std::vector<std::size_t>& good,
                              const std::vector<Tensor>& inputs) const;
    void hand(const std::vector<detail::LoadedSample>& batch, const std::vector<std::size_t>& good,
              const RunResult& run);
    void submit(InFlight& next, detail::ForwardStreams& streams);
    bool finish(InFlight& done, ExtractionProgress& state, const std::function<double()>& elapsed);
    void go(detail::BatchLoader& loader, int streams, const std::function<double()>& elapsed);
    std::string state(std::int64_t positions) const;
    void restore(const std::string& resumed, const Plan& whole);
    void checkpointWritten();
};

// Everything that makes two runs the same job: a resume of another is refused with the difference.
std::string resumeIdentity(const ExtractionJob& job, const Plan& plan, const CaptureRequest& request,
                           const std::string& modelSha256)
{
    std::uint64_t files = 1469598103934665603ull; // FNV-1a of the data set's file list, in order
    for (std::int64_t row = 0; plan.inputs.isFolderRun() && row < plan.inputs.datasetSize(); ++row)
        for (const auto& file : plan.inputs.filesOf(row))
            for (const char c : file + '\n')
                files = (files ^ std::uint8_t(c)) * 1099511628211ull;
    std::vector<std::string> inputs;
    for (const auto& input : job.inputs)
        inputs.push_back(fs::absolute(input).lexically_normal().string());
    Json identity = {{"model_sha256", modelSha256},
                     {"inputs", inputs},
                     {"data_set", {{"images", plan.inputs.datasetSize()}, {"file_list_fnv1a", files}}},
                     {"preprocessing", Json::parse(job.preprocessing.toJson())},
                     {"batch_size", job.batchSize},
                     {"shard", {job.shardIndex, job.shardCount}},
                     {"captures", request.outputsOf},
                     {"inputs_of", request.inputsOf},
                     {"reduce", job.reduce.any() ? Json::parse(detail::reductionJson(job.reduce)) : Json()},
                     {"format", job.onBatch ? Json() : Json(exportFormatName(exportFormatFor(job.outputPath)))},
                     {"compression", job.exportOptions.compression},
                     {"method", job.method}};
    return identity.dump();
}

std::string Run::state(std::int64_t positions) const
{
    Json skipped = Json::array();
    for (const auto& s : result.skippedInputs)
        skipped.push_back({{"files", s.files}, {"reason", s.reason}});
    Json values = Json::array();
    for (const auto& v : result.skippedValues)
        values.push_back({{"key", v.key}, {"type", v.typeName}});
    Json shapes = Json::array();
    for (const auto& t : firstShapes)
        shapes.push_back(t.shape);
    return Json({{"job", Json::parse(identity)},
                 {"positions", positions},
                 {"rows", result.rows},
                 {"skipped_inputs", skipped},
                 {"skipped_positions", skippedPositions},
                 {"not_executed", result.notExecuted},
                 {"skipped_values", values},
                 {"first_shapes", shapes}})
        .dump();
}

// Continues where a killed run's last checkpoint left off: its rows, what it skipped, and the plan
// positions still to do.
void Run::restore(const std::string& resumed, const Plan& whole)
{
    // Compared as unordered JSON: the checkpoint's writer keeps keys sorted.
    const nlohmann::json saved = nlohmann::json::parse(resumed);
    const nlohmann::json now = nlohmann::json::parse(identity);
    for (const auto& [key, value] : now.items())
        if (!saved.at("job").contains(key) || saved.at("job").at(key) != value)
            throw Error("--resume: " + job.outputPath + " was started with another " + key + " ("
                        + (saved.at("job").contains(key) ? saved.at("job").at(key).dump() : std::string("none"))
                        + ", now " + value.dump() + "); run the same command, or remove "
                        + resumeStatePathFor(job.outputPath) + " to start again");
    positionBase = saved.at("positions").get<std::int64_t>();
    result.rows = saved.at("rows").get<std::int64_t>();
    for (const auto& s : saved.at("skipped_inputs"))
        result.skippedInputs.push_back(
            {s.at("files").get<std::vector<std::string>>(), s.at("reason").get<std::string>()});
    skippedPositions = saved.at("skipped_positions").get<std::vector<std::int64_t>>();
    result.notExecuted = saved.at("not_executed").get<std::vector<std::string>>();
    for (const auto& v : saved.at("skipped_values"))
        result.skippedValues.push_back({v.at("key").get<std::string>(), v.at("type").get<std::string>()});
    for (const auto& shape : saved.at("first_shapes"))
        firstShapes.push_back({shape.get<std::vector<std::int64_t>>(), DType::Float32, nullptr});
    // Positions are recorded in order: one pass over both lists.
    auto skipped = skippedPositions.begin();
    for (std::int64_t p = 0; p < positionBase; ++p) {
        if (skipped != skippedPositions.end() && *skipped == p)
            ++skipped;
        else
            rowDatasetIndex.push_back(whole.rows[std::size_t(p)]);
    }
}

// The plan positions a resumed run has done, read before anything loads.
std::int64_t resumedPositions(const std::string& resumed, const Plan& whole, const std::string& output)
{
    const Json saved = Json::parse(resumed, nullptr, false);
    if (saved.is_discarded() || !saved.contains("positions") || !saved["positions"].is_number_integer())
        throw Error("--resume: the resume state of " + output + " is damaged; remove it to start again");
    const std::int64_t positions = saved.at("positions").get<std::int64_t>();
    if (positions < 0 || positions > std::int64_t(whole.rows.size()))
        throw Error("--resume: the resume state of " + output + " is damaged (" + std::to_string(positions)
                    + " images done of " + std::to_string(whole.rows.size()) + ")");
    return positions;
}

void Run::checkpointWritten()
{
    if (job.resume && !pendingState.empty()) {
        if (writer)
            writer->checkpoint(pendingState);
        else if (job.onCheckpoint)
            job.onCheckpoint(pendingState);
    }
    pendingState.clear();
}

std::vector<std::size_t> Run::usable(std::vector<detail::LoadedSample>& batch)
{
    const bool folderRun = plan.inputs.isFolderRun();
    std::vector<std::size_t> good;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        auto& sample = batch[i];
        const std::int64_t row = plan.rows[std::size_t(sample.index)];
        if (sample.error.empty() && folderRun) {
            if (firstShapes.empty())
                firstShapes = sample.tensors;
            for (std::size_t a = 0; a < sample.tensors.size() && sample.error.empty(); ++a) {
                if (sample.tensors[a].shape != firstShapes[a].shape)
                    sample.error = plan.inputs.filesOf(row)[a] + ": preprocessed to "
                        + shapeToString(sample.tensors[a].shape) + " but the first image to "
                        + shapeToString(firstShapes[a].shape) + "; give --resize so that every image has one size";
            }
        }
        if (!sample.error.empty()) {
            if (!folderRun)
                throw Error(sample.error);
            continue;
        }
        good.push_back(i);
    }
    return good;
}

void Run::recordSkipped(const std::vector<detail::LoadedSample>& batch)
{
    for (const auto& sample : batch) {
        if (sample.error.empty())
            continue;
        result.skippedInputs.push_back({plan.inputs.filesOf(plan.rows[std::size_t(sample.index)]), sample.error});
        skippedPositions.push_back(positionBase + sample.index);
    }
}

std::vector<Tensor> Run::modelInputs(const std::vector<detail::LoadedSample>& batch,
                                     const std::vector<std::size_t>& good) const
{
    std::vector<Tensor> inputs;
    if (plan.inputs.isFolderRun()) {
        for (std::size_t a = 0; a < plan.inputs.arguments(); ++a) {
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
    return inputs;
}

// A .mat variable past 2 GiB is known from the first batch: said then, not after the whole run.
void Run::checkOutputCanHoldAll(const RunResult& first) const
{
    if (!writer || writer->format() != ExportFormat::Mat || !plan.inputs.isFolderRun()
        || job.exportOptions.matVersion != 5) // otherwise a large variable is written as v7.3
        return;
    for (const NamedTensor& capture : namedCaptures(detail::reduced(first, job.reduce))) // as it will be written
        if (!capture.tensor.shape.empty() && capture.tensor.shape[0] > 0)
            detail::checkMatVariableSize(job.outputPath, capture.name, plan.samples(),
                                         capture.tensor.nbytes() / std::size_t(capture.tensor.shape[0]), true);
}

ForwardBatch Run::forwardBatch(const std::vector<detail::LoadedSample>& batch, const std::vector<std::size_t>& good,
                               const std::vector<Tensor>& inputs) const
{
    ForwardBatch forward {inputs, {}, {}};
    for (std::size_t i : good) {
        forward.datasetRows.push_back(plan.rows[std::size_t(batch[i].index)]);
        forward.files.push_back(plan.inputs.filesOf(forward.datasetRows.back()));
    }
    return forward;
}

void Run::hand(const std::vector<detail::LoadedSample>& batch, const std::vector<std::size_t>& good,
               const RunResult& run)
{
    if (pendingWrite.valid()) { // the previous batch is on disk (or its error is thrown here)
        timed(result.writeWaitSeconds, [&] { pendingWrite.get(); });
        checkpointWritten();
    }
    if (job.onBatch) {
        auto done = std::make_shared<ExtractionBatch>();
        for (std::size_t i : good) {
            done->datasetRows.push_back(plan.rows[std::size_t(batch[i].index)]);
            done->files.push_back(plan.inputs.filesOf(done->datasetRows.back()));
        }
        done->datasetSize = plan.inputs.datasetSize();
        done->run = std::make_shared<const RunResult>(run);
        pendingWrite = std::async(std::launch::async, [this, done] { job.onBatch(*done); });
    } else {
        auto written = std::make_shared<const RunResult>(run); // pooled and converted while the next batch runs
        pendingWrite = std::async(std::launch::async, [this, written] {
            writer->append(namedCaptures(detail::reduced(*written, job.reduce)));
        });
    }
    for (std::size_t i : good) {
        const std::int64_t row = plan.rows[std::size_t(batch[i].index)];
        Json entry = Json::object();
        entry["row"] = result.rows++;
        if (plan.inputs.isFolderRun())
            entry["dataset_index"] = row;
        entry["files"] = plan.inputs.filesOf(row);
        if (writer)
            writer->addManifestRow(entry.dump(-1, ' ', false, Json::error_handler_t::replace));
        rowDatasetIndex.push_back(row);
    }
    if (job.resume)
        pendingState = state(positionBase + batch.back().index + 1);
}

void Run::submit(InFlight& next, detail::ForwardStreams& streams)
{
    next.good = usable(next.batch);
    if (next.good.empty())
        return;
    std::vector<Tensor> inputs = modelInputs(next.batch, next.good);
    ForwardBatch batch = job.forward ? forwardBatch(next.batch, next.good, inputs) : ForwardBatch {};
    // Side by side, the forwards' module-by-module progress would interleave: they report images only.
    const JobControl* forwardControl = control;
    std::shared_ptr<JobControl> cancelOnly;
    if (control && streams.count() > 1) {
        cancelOnly = std::make_shared<JobControl>(JobControl {control->id, control->cancel, {}});
        forwardControl = cancelOnly.get();
    }
    next.forward = streams.submit([this, inputs = std::move(inputs), batch = std::move(batch), forwardControl,
                                   cancelOnly, run = next.run, seconds = next.seconds] {
        timed(*seconds, [&] {
            *run = job.forward ? job.forward(model, batch, forwardControl) : model.run(inputs, request, forwardControl);
        });
    });
}

// The oldest batch under way: its forward's end, then its rows to the writer and the progress.
// False when the run stops here (cancelled).
bool Run::finish(InFlight& done, ExtractionProgress& state, const std::function<double()>& elapsed)
{
    if (done.forward.valid()) {
        try {
            done.forward.get();
        } catch (const Cancelled&) {
            result.cancelled = true; // what was written stays complete: this batch is not
            return false;
        }
        result.forwardSeconds += *done.seconds;
    }
    recordSkipped(done.batch);
    if (!done.good.empty()) {
        if (result.rows == 0) {
            result.notExecuted = done.run->notExecuted;
            result.skippedValues = done.run->skipped;
            checkOutputCanHoldAll(*done.run);
        }
        hand(done.batch, done.good, *done.run);
    }
    state.done += std::int64_t(done.batch.size());
    state.skipped = std::int64_t(result.skippedInputs.size());
    state.seconds = elapsed();
    if (progress && !progress(state) && state.done < state.total) {
        result.cancelled = true;
        return false;
    }
    return true;
}

void Run::go(detail::BatchLoader& loader, int streamCount, const std::function<double()>& elapsed)
{
    if (writer)
        writer->startManifestRows();
    ExtractionProgress state;
    state.done = positionBase;
    state.total = positionBase + plan.samples();
    // Declared before the batches under way: on the way out (an error), those are dropped first,
    // then the streams finish the forwards they started.
    detail::ForwardStreams streams(streamCount, std::max(1, computeThreads() / streamCount));
    std::deque<InFlight> underWay;
    bool going = true;
    while (going) {
        InFlight next;
        timed(result.inputWaitSeconds, [&] { next.batch = loader.next(); });
        if (next.batch.empty())
            break;
        submit(next, streams);
        underWay.push_back(std::move(next));
        if (int(underWay.size()) == streams.count()) {
            going = finish(underWay.front(), state, elapsed);
            underWay.pop_front();
        }
    }
    for (; going && !underWay.empty(); underWay.pop_front())
        going = finish(underWay.front(), state, elapsed);
    for (auto& dropped : underWay) // after a cancel: their rows are not written
        if (dropped.forward.valid())
            dropped.forward.wait();
    if (pendingWrite.valid()) {
        timed(result.writeWaitSeconds, [&] { pendingWrite.get(); });
        checkpointWritten();
    }
    if (result.rows == 0 && !result.cancelled)
        throw Error("no input could be read: "
                    + (result.skippedInputs.empty() ? std::string("nothing to do") : result.skippedInputs[0].reason));
}

// `control`, when given, also stops a forward between its modules (a big batch need not finish).
ExtractionResult extract(const std::string& modelPath, const ModelFuture& modelFuture, const ExtractionJob& job,
                         const ProgressCallback& progress, const JobControl* control = nullptr)
{
    const auto started = std::chrono::steady_clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };
    // An unwritable output, or one that cannot hold what --dtype asks for, fails before any work.
    if (!job.onBatch)
        detail::checkReduction(job.reduce, exportFormatFor(job.outputPath), job.outputPath);
    ExportOptions exportOptions = job.exportOptions;
    exportOptions.resumable = job.resume && !job.onBatch;
    const auto writer = job.onBatch ? nullptr : std::make_unique<CaptureWriter>(job.outputPath, exportOptions);
    // The model hash (the manifest's, a resume's) is read while the images decode and the model loads.
    const std::shared_future<std::string> modelHash
        = std::async(std::launch::async, [modelPath] { return sha256OfFile(modelPath); }).share();
    const Plan whole = plan(job);
    // --resume: what a killed run did is skipped; the plan goes on from its last checkpoint.
    const std::string& resumedState = writer ? writer->resumedState() : job.resumedState;
    const bool resuming = job.resume && !resumedState.empty();
    Plan planned = whole;
    if (resuming) // a damaged state fails here, before any work, and is named
        planned.rows.erase(planned.rows.begin(),
                           planned.rows.begin() + resumedPositions(resumedState, whole, job.outputPath));

    const int cores = std::max(1u, std::thread::hardware_concurrency());
    const int decodeThreads = job.decodeThreads > 0 ? job.decodeThreads : std::max(1, cores / 2);
    const int batchSize = planned.inputs.isFolderRun() ? job.batchSize : 1;
    const std::int64_t batches = (planned.samples() + batchSize - 1) / batchSize;
    int streams = int(std::min<std::int64_t>(job.streams > 0 ? job.streams : defaultForwardStreams(computeThreads()),
                                             std::max<std::int64_t>(1, batches)));
    if (job.forward) // the attribution methods take turns (gradients keep state in the model)
        streams = 1;
    detail::BatchLoader loader(planned.samples(), batchSize, decodeThreads, std::max(2, streams),
                               [&planned](std::int64_t position) {
                                   detail::LoadedSample sample;
                                   sample.tensors = planned.inputs.load(planned.rows[std::size_t(position)]);
                                   return sample;
                               });

    // The first batches decode while the model loads.
    const Model& model = *modelFuture.get();
    if (!model.forwardsRunSideBySide())
        streams = 1;
    Run run {planned, job, model, requestFor(job, model), writer.get(), progress, control, {}, {}, 0, {}, {},
             {},      {},  {}};
    if (job.resume)
        run.identity = resumeIdentity(job, planned, run.request, modelHash.get());
    if (resuming) {
        try {
            run.restore(resumedState, whole);
        } catch (const Json::exception& error) {
            throw Error("--resume: the resume state of " + job.outputPath + " is damaged (" + error.what() + ")");
        }
    }
    run.result.streams = streams;
    run.result.datasetSize = planned.inputs.datasetSize();
    run.go(loader, streams, elapsed);
    ExtractionResult& result = run.result;
    result.seconds = elapsed();
    if (!writer)
        return result; // onBatch had every batch

    // --- Manifest and commit.
    result.captures = writer->summary();
    if (!planned.inputs.isFolderRun() && !result.captures.empty())
        result.rows = result.captures.front().shape[0]; // the .npy inputs' own batch axis
    const std::string manifest = detail::extractionManifest(
        {job, model, modelHash.get(), planned.inputs, result, writer->path(), writer->format(), decodeThreads});
    result.notes = writer->commit(manifest, [&](std::int64_t r) {
        return r < std::int64_t(run.rowDatasetIndex.size())
            ? planned.inputs.filesOf(run.rowDatasetIndex[std::size_t(r)])[0]
            : std::to_string(r);
    });
    result.outputPath = writer->path();
    result.manifestPath = manifestPathFor(writer->path());
    return result;
}

} // namespace

int defaultForwardStreams(int computeThreads) { return std::clamp(computeThreads, 1, 4); }

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
    const ModelFuture model
        = std::async(std::launch::async, [modelPath, options] {
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
