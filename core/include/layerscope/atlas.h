#pragma once
// The data-set atlas: what each channel of the chosen captures responds to across a folder of
// images. One streamed pass scores every image on every channel and keeps, per channel, the top
// and bottom K images (bounded heaps) and streamed statistics; per image, the pooled vector of each
// capture (written to disk as it comes) and the model's top-1 class. Memory does not grow with the
// number of images. The atlas is a folder of .npy files and one atlas.json, readable by numpy:
//
//   atlas.json                 what was run: model and SHA-256, inputs, preprocessing, score, K, shard
//   images.jsonl               one JSON string per image: its file, in the order of rows.npy
//   rows.npy                   [N] int64, each image's row in the whole data set (its sorted file list)
//   predicted_class.npy        [N] int64 (-1 when the output is not [N, classes]); predicted_score.npy
//   capture_<i>/top_rows.npy   [C, K] int64 data-set rows, best first (-1 where fewer than K images)
//               top_scores.npy [C, K] float32; top_positions.npy [C, K, 2] int32 (y, x; -1 where none)
//               bottom_*.npy   the same for the lowest scores, lowest first
//               statistics.npy [C, 9] float64: values, mean, m2, min, max, images, active, nan, inf
//               pooled.npy     [N, C] float32: the spatial (or token) mean per image

#include "layerscope/extraction.h"
#include "layerscope/tensor.h"

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace layerscope {

// How one image scores on a channel: the maximum (or mean) of the channel's map over its positions.
enum class AtlasScore { Max, Mean };
std::string atlasScoreName(AtlasScore score); // "max", "mean"

// The shapes an atlas understands, per image: [C, H, W] maps, [C] vectors, [T, D] tokens (D channels).
enum class AtlasCaptureKind { Map, Vector, Tokens };

struct AtlasEntry {
    std::int64_t row = -1; // the image's row in the data set
    float score = 0;
    std::int32_t y = -1; // the maximum's position in the capture's own grid; tokens: the token in y
    std::int32_t x = -1;
};

// Over every finite value of a channel (all images, all positions), merged as Chan et al. do, so
// that shards combine; plus per-image counts of the score.
struct ChannelStatistics {
    std::int64_t values = 0;
    double mean = 0;
    double m2 = 0; // sum of squared deviations from the mean
    double min = std::numeric_limits<double>::infinity();
    double max = -std::numeric_limits<double>::infinity();
    std::int64_t images = 0; // images scored
    std::int64_t active = 0; // images whose score is above zero
    std::int64_t nan = 0, inf = 0;

    double std() const; // population standard deviation, as numpy's default
    double activeFraction() const;
    bool dead() const { return active == 0; } // never above zero
    void merge(const ChannelStatistics& other);
};

struct AtlasLayer {
    std::string capture;                   // a capture key, as extract takes them: "layer4", "encoder:1", "fc>in"
    std::vector<std::int64_t> sampleShape; // one image's capture, without the batch axis
    AtlasCaptureKind kind = AtlasCaptureKind::Map;
    std::vector<std::vector<AtlasEntry>> top;    // per channel, best first
    std::vector<std::vector<AtlasEntry>> bottom; // per channel, lowest first
    std::vector<ChannelStatistics> statistics;   // per channel

    std::int64_t channels() const { return std::int64_t(statistics.size()); }
};

// What the atlas was made from; checked when shards merge.
struct AtlasInfo {
    std::string modelPath;
    std::string modelSha256;
    std::vector<std::string> inputs; // as given on the command line
    std::string preprocessingJson;   // Preprocessing::toJson()
    bool recursive = false;
    AtlasScore score = AtlasScore::Max;
    int topK = 9;
    int shardIndex = 0;
    int shardCount = 1;
    std::int64_t datasetRows = 0; // images in the whole data set, every shard
    std::vector<std::string> captures;
    std::vector<std::string> skipped; // "file: reason" for inputs that could not be read
};

// Builds an atlas as batches come. Everything is staged beside `outputPath` and moved into place by
// finish(); destroyed before that (an error, a cancel), it leaves nothing under that name.
class AtlasBuilder {
public:
    // Throws layerscope::Error when the folder is not writable or K is not positive.
    // Resumable (atlas --resume): staged in ".NAME.resume" beside the atlas, kept when the builder ends
    // unfinished; a builder made again there continues from the last checkpoint().
    AtlasBuilder(std::string outputPath, AtlasInfo info, bool resumable = false);
    ~AtlasBuilder();
    AtlasBuilder(const AtlasBuilder&) = delete;
    AtlasBuilder& operator=(const AtlasBuilder&) = delete;

    // One batch of B images: their data-set rows and files, each capture of info.captures as [B, ...]
    // (any floating dtype), and the model's output (an empty Tensor when it has none). Throws
    // layerscope::Error for a missing capture, a shape an atlas cannot score, or a write error.
    void add(const std::vector<std::int64_t>& rows, const std::vector<std::string>& files,
             const std::map<std::string, Tensor>& captures, const Tensor& output);
    void addSkipped(const std::string& line);
    // Known once the run has listed its inputs: the data set's size and the model's SHA-256.
    void setDatasetRows(std::int64_t rows, const std::string& modelSha256);
    std::int64_t images() const;

    // Resumable builders: the images so far on disk, with the rankings, statistics and `runState` (the
    // caller's JSON object), replacing the previous checkpoint only once all of it is there.
    void checkpoint(const std::string& runState);
    // The runState of the checkpoint a killed run left, the builder restored to it; empty when afresh.
    const std::string& resumedState() const;

    // Returns notes for the user (a killed run's resume state it removed).
    std::vector<std::string> finish();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// An atlas read back. Small arrays are read at once; pooled vectors on demand.
class Atlas {
public:
    // Throws layerscope::Error with one line naming the file and what is wrong.
    static Atlas open(const std::string& path);

    const std::string& path() const { return path_; }
    const AtlasInfo& info() const { return info_; }
    const std::vector<AtlasLayer>& layers() const { return layers_; }
    // By capture key; throws with "did you mean" suggestions.
    const AtlasLayer& layer(const std::string& capture) const;

    std::int64_t images() const { return std::int64_t(rows_.size()); }
    const std::vector<std::int64_t>& rows() const { return rows_; }
    const std::vector<std::string>& files() const { return files_; }
    const std::vector<std::int64_t>& predictedClass() const { return predictedClass_; }
    const std::vector<float>& predictedScore() const { return predictedScore_; }
    // The file of a data-set row, or "" when the atlas has no such row.
    std::string fileOfRow(std::int64_t row) const;
    // [images, C] float32, in the order of rows().
    Tensor pooled(const std::string& capture) const;

private:
    std::string path_;
    AtlasInfo info_;
    std::vector<AtlasLayer> layers_;
    std::vector<std::int64_t> rows_;
    std::vector<std::string> files_;
    std::vector<std::int64_t> predictedClass_;
    std::vector<float> predictedScore_;
    std::map<std::int64_t, std::size_t> indexOfRow_;
};

// The pass: what extract takes (inputs, preprocessing, batches, shard; run.outputPath is the atlas)
// and what to score.
struct AtlasJob {
    ExtractionJob run;                 // run.resume: a checkpoint after every batch, as extract --resume
    std::vector<std::string> captures; // capture keys: "layer4", "encoder:1", "fc>in", "output"
    AtlasScore score = AtlasScore::Max;
    int topK = 9;
};

struct AtlasResult {
    std::int64_t images = 0; // scored
    std::vector<SkippedInput> skippedInputs;
    bool cancelled = false; // then nothing was written (with resume: the last checkpoint is kept)
    double seconds = 0;
    std::string path;
    std::vector<std::string> notes;
};

// One streamed pass over the inputs, at the speed of extract (the same pipeline). Throws
// layerscope::Error for bad inputs, a capture the forward does not record, an unwritable atlas.
AtlasResult buildAtlas(const std::string& modelPath, const AtlasJob& job, const ProgressCallback& progress = {});
AtlasResult buildAtlas(const Model& model, const AtlasJob& job, const ProgressCallback& progress = {});

// The pooled vectors of an atlas's images in two dimensions: their first two principal components
// (OpenCV's PCA). Each component's sign is fixed so that its loading of largest magnitude is positive;
// rows with a NaN or Inf are left out (their coordinates are NaN).
struct Projection {
    std::vector<float> x, y;      // per row of the pooled vectors
    double explained[2] = {0, 0}; // the fraction of the variance each component explains
};
Projection projectPooled(const Tensor& pooled); // [images, C] float32; throws for other shapes

// The `count` rows most similar to row `row` by cosine similarity of their pooled vectors, most similar
// first, the row itself excluded; rows of zero length or with NaN are never neighbours.
struct Neighbour {
    std::int64_t index; // a row of the pooled vectors
    float similarity;
};
std::vector<Neighbour> nearestByCosine(const Tensor& pooled, std::int64_t row, int count);

// Merges the shards of one job (same model, inputs, preprocessing, captures, score, K and shard
// count; every shard exactly once) into the atlas one unsharded run gives. Throws layerscope::Error
// naming the shard and the difference, or the missing and duplicated shards.
void mergeAtlases(const std::vector<std::string>& shardPaths, const std::string& outputPath);

} // namespace layerscope
