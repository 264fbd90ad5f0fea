#pragma once
// Activations out: .npy (a folder, one file per capture), .npz, .mat, .pt, .csv and .png, chosen by
// the output path. Rows (samples) are appended batch by batch and streamed to disk, so memory stays
// flat whatever the number of images; the output appears under its final name only when complete.

#include "layerscope/npy.h"
#include "layerscope/render.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace layerscope {

enum class ExportFormat { NpyFolder, Npz, Mat, Pt, Csv, Png, Hdf5 };

// By extension; a path without one (or an existing folder) is a folder of .npy files.
// Throws layerscope::Error for other extensions.
ExportFormat exportFormatFor(const std::string& path);
std::string exportFormatName(ExportFormat format);
// Where the JSON manifest goes: OUT/manifest.json for a folder, else beside, after the full output
// name: out.npz -> out.npz.manifest.json (so out.mat and out.npz keep one each).
std::string manifestPathFor(const std::string& outputPath);
// Where extract --resume keeps a run's state until it completes: ".NAME.resume" beside the output.
std::string resumeStatePathFor(const std::string& outputPath);

struct ExportOptions {
    GridOptions grid;    // for .png
    int compression = 0; // for .h5: gzip level 1..9 with the shuffle filter, 0 for none
    // Stage in ".NAME.resume" beside the output, kept when the writer ends uncommitted, so that a
    // run started again continues from its last checkpoint() (extract --resume).
    bool resumable = false;
    // .mat: 5 (MATLAB v5: a variable holds at most 2 GiB), 73 (v7.3, HDF5 inside), or 0: v5 unless a
    // variable needs v7.3.
    int matVersion = 0;
};

struct CaptureSummary {
    std::string name;                // capture key: "layer1", "feature_model:1", "lstm[0]"
    std::vector<std::int64_t> shape; // rows first
    DType dtype = DType::Float32;
    std::string storedAs; // file in the folder, MATLAB variable, or empty where the name is kept
};

class CaptureWriter {
public:
    // Checks that `path` can be written and claims a staging folder beside it. Throws layerscope::Error.
    explicit CaptureWriter(const std::string& path, const ExportOptions& options = {});
    ~CaptureWriter(); // without commit(): removes everything it staged
    CaptureWriter(const CaptureWriter&) = delete;
    CaptureWriter& operator=(const CaptureWriter&) = delete;

    // Appends rows along the first axis. The first call fixes the names; every later call must bring
    // the same names with the same trailing shape and dtype.
    void append(const std::vector<NamedTensor>& captures);

    std::int64_t rows() const; // rows of the first capture so far
    std::vector<CaptureSummary> summary() const;
    ExportFormat format() const;
    const std::string& path() const;

    // One row of the manifest's "rows" array (a JSON value), streamed to the staging folder as it
    // comes: a run over a million images does not hold a million rows in memory. Once called (or
    // after startManifestRows()), commit() writes the rows as the manifest's last key.
    void startManifestRows();
    void addManifestRow(const std::string& rowJson);

    // Writes the output in its format and the manifest (a JSON object) beside it. rowLabel(r) (the
    // row's input file) names the rows in a .csv and the .png files. Returns notes for the user
    // (captures a format could not hold).
    std::vector<std::string> commit(const std::string& manifestJson = {},
                                    const std::function<std::string(std::int64_t row)>& rowLabel = {});

    // Resumable writers (ExportOptions::resumable): puts the rows so far and `stateJson` (the caller's
    // own JSON object) on disk, replacing the previous checkpoint only once all of it is there.
    void checkpoint(const std::string& stateJson);
    // The state of the last checkpoint a killed run left, its arrays and manifest rows already
    // reopened at that point; empty when the run starts afresh.
    const std::string& resumedState() const;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

// One call for captures that are all in memory.
std::vector<std::string> writeCaptures(const std::string& path, const std::vector<NamedTensor>& captures,
                                       const ExportOptions& options = {}, const std::string& manifestJson = {});

} // namespace layerscope
