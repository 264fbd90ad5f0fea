#pragma once
// Extraction: inputs (images, folders of images, .npy tensors) through a model, captures out to a
// file. Batches are decoded on worker threads while the model runs, and written while the next
// batch runs; memory stays flat whatever the number of images. The CLI and the GUI both call this.

#include "layerscope/capture.h"
#include "layerscope/exporters.h"
#include "layerscope/job.h"
#include "layerscope/model.h"
#include "layerscope/preprocessing.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace layerscope {

struct ExtractionBatch;

// Smaller features, computed from each batch's captures before they are written (--pool, --dtype).
enum class MapPooling { None, Average, Max };       // floating [N, C, H, W] captures to [N, C]
enum class TokenPooling { None, ClassToken, Mean }; // floating [N, T, D] captures to [N, D]: token 0, or the mean
struct FeatureReduction {
    MapPooling maps = MapPooling::None;
    TokenPooling tokens = TokenPooling::None;
    bool float16 = false; // floating captures stored as float16 (.npy, .npz, .pt; refused for others)
    bool any() const { return maps != MapPooling::None || tokens != TokenPooling::None || float16; }
};

// One batch for ExtractionJob::forward: the model's inputs and where each sample came from.
struct ForwardBatch {
    std::vector<Tensor> inputs;                  // one [batch, ...] per forward argument, preprocessed
    std::vector<std::vector<std::string>> files; // each sample's file per forward argument
    std::vector<std::int64_t> datasetRows;       // each sample's row in the data set
};

struct ExtractionJob {
    std::vector<std::string> inputs; // one per forward argument: an image, a folder of images, or an .npy
    Preprocessing preprocessing;
    bool recursive = false; // folders
    int batchSize = 16;
    int shardIndex = 0; // --shard I/N: rows I, I+N, I+2N ... of the sorted file list
    int shardCount = 1;
    CaptureRequest request;
    bool allModules = false; // add every module with a forward (not the root) to request.outputsOf
    bool withInputs = false; // record the inputs of every module in request.outputsOf too
    std::string outputPath;  // format from the extension, see exporters.h
    ExportOptions exportOptions;
    FeatureReduction reduce; // recorded in the manifest under "reduce"
    int decodeThreads = 0;   // 0: chosen from the machine
    // Batches that run through the model side by side, each on its share of the compute threads
    // (memory: one batch's activations per stream). 0: chosen from the machine and the model, see
    // defaultForwardStreams. One stream where the model's forwards cannot run side by side (ONNX) or
    // `forward` is set.
    int streams = 0;
    bool trustModel = false; // LoadOptions::trustModel, when extraction opens the model itself
    // --resume: stage in ".NAME.resume" beside the output with a checkpoint after every batch; a run
    // started again with the same job continues after the last complete batch and ends with the
    // output an uninterrupted run gives. A different model (SHA-256), data set or option is refused.
    bool resume = false;
    // When set, each batch's forward goes to this function (on a worker thread, one batch at a time,
    // while the next batch runs) instead of a file: outputPath and the manifest are not written.
    // What the atlas uses. An exception it throws ends the run with that error.
    std::function<void(const ExtractionBatch&)> onBatch;
    // With onBatch and resume, the checkpoints are onBatch's owner's (the atlas keeps them with its own
    // state): onCheckpoint(runState) once a batch's onBatch has returned, and resumedState, the runState
    // of the last checkpoint a killed run made (empty: the run starts afresh).
    std::function<void(const std::string& runState)> onCheckpoint;
    std::string resumedState;
    // When set, computes each batch's arrays instead of Model::run with `request` (what `cam` uses):
    // the captures it returns are written as a forward's are. Throws Cancelled when `control` says so.
    std::function<RunResult(const Model&, const ForwardBatch& batch, const JobControl* control)> forward;
    // Recorded in the manifest under "method" when not empty (cam: the method, layer and class).
    std::map<std::string, std::string> method;
};

// One batch of a run, for ExtractionJob::onBatch.
struct ExtractionBatch {
    std::vector<std::int64_t> datasetRows;       // each sample's row in the data set (its sorted file list)
    std::vector<std::vector<std::string>> files; // each sample's file per forward argument
    std::int64_t datasetSize = 0;                // rows in the whole data set, every shard
    std::shared_ptr<const RunResult> run;        // what the forward recorded, [batch, ...] each
};

struct ExtractionProgress {
    std::int64_t done = 0;    // samples through the model (or skipped)
    std::int64_t total = 0;   // samples in this shard
    std::int64_t skipped = 0; // unreadable inputs so far
    double seconds = 0;
};

struct SkippedInput {
    std::vector<std::string> files; // the sample's file per forward argument
    std::string reason;
};

struct ExtractionResult {
    std::int64_t rows = 0;
    std::vector<SkippedInput> skippedInputs;
    std::vector<std::string> notExecuted;
    std::vector<SkippedValue> skippedValues;
    std::vector<CaptureSummary> captures;
    std::vector<std::string> notes; // from the exporter (captures a format could not hold)
    bool cancelled = false;
    double seconds = 0;
    // Where the time went: the forward itself, waiting for decoded images, waiting for the disk.
    // With several streams, forwardSeconds is their sum: more than the time the run took.
    double forwardSeconds = 0, inputWaitSeconds = 0, writeWaitSeconds = 0;
    int streams = 1;              // forwards side by side (ExtractionJob::streams)
    std::int64_t datasetSize = 0; // rows in the whole data set, every shard (folder runs)
    std::string outputPath;       // the data file or folder written
    std::string manifestPath;
};

// Called after every batch; return false to stop. What was written is then kept, complete and
// valid for the rows done, and the manifest says the run was cancelled.
using ProgressCallback = std::function<bool(const ExtractionProgress&)>;

// Throws layerscope::Error for bad inputs, a failing forward or an unwritable output; nothing is
// left under the output's name then.
ExtractionResult runExtraction(const Model& model, const ExtractionJob& job, const ProgressCallback& progress = {});

// The same as a job of the engine (job.h): its token is checked between batches and inside each
// forward, between modules; a run cancelled after it started keeps what it wrote, complete and valid
// (result.cancelled), one cancelled before it started throws Cancelled. Progress is reported as
// images done ("images"), and the forward's modules as Model::run reports them.
ExtractionResult runExtraction(const Model& model, const ExtractionJob& job, const JobControl& control);

// The same, loading the model from a file while the first images are decoded (what the CLI does).
ExtractionResult runExtraction(const std::string& modelPath, const ExtractionJob& job,
                               const ProgressCallback& progress = {});

// The streams of a run on `computeThreads` threads when ExtractionJob::streams is 0: one per thread up
// to 4, which then share the threads (measured on 2 cores: README, Figures).
int defaultForwardStreams(int computeThreads);

// The SHA-256 of a file as 64 hex digits (for manifests). Throws layerscope::Error.
std::string sha256OfFile(const std::string& path);

struct MergeResult {
    std::int64_t rows = 0;
    int shards = 0;
    std::size_t captures = 0;
    std::string outputPath, manifestPath;
    std::vector<std::string> notes; // from the writer (captures a format could not hold)
};

// The shards of one extract job (--shard I/N: .npz, .pt, .h5, .mat or folders of .npy, with their
// manifests) as one output in data-set order: the arrays an unsharded run writes, in any format. Checks
// that the shards are one job's (model SHA-256, inputs, preprocessing, captures, shard count,
// --pool/--dtype), that each shard and each data-set row is there once, and throws layerscope::Error
// naming what differs or is missing. Rows are read where they lie and written a block at a time, so
// memory stays flat (shards other than .npy folders are unpacked to .npy beside the output first).
// `progress` gets the rows written after every block; returning false stops the merge, which then
// throws Cancelled. The output is written atomically: complete, or not at all.
MergeResult mergeShards(const std::vector<std::string>& shards, const std::string& outputPath,
                        const ProgressCallback& progress = {});

std::string layerscopeVersion();

} // namespace layerscope
