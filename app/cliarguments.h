#pragma once
// layerscope-cli's command line: the commands and their options, parsed with CLI11 and checked
// before any work starts (numbers in range, finite, sizes that fit in memory), so that a bad value
// is one clear line naming the option. Kept apart from running the commands so that the fuzz
// target (tests/fuzz/fuzz_cli.cpp) can drive it alone.

#include "layerscope/extraction.h"
#include "layerscope/model.h"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace layerscope::cli {

// Largest side accepted by --resize, --resize-shorter and --crop: 16384 pixels (a 16384 x 16384
// float image is already 3 GiB per channel triple).
constexpr int kMaxImageSide = 16384;
constexpr int kMaxBatchSize = 4096;

struct ExtractOptions {
    std::string model;
    std::vector<std::string> layers;
    bool all = false;
    bool withInputs = false;
    bool quiet = false;
    std::string shard;
    std::string preset, resize, crop, color, mean, std, interpolation;
    int resizeShorter = 0;
    int threads = 0;
    bool noScale = false;
    std::int64_t maxPixels = 0; // 0: the default limit (preprocessing.h)
    std::string colormap = "viridis", normalization = "channel";
    std::vector<std::string> pool; // extract: avg|max (4-D), cls|mean (3-D)
    std::string dtype;             // extract: float16 (or float32: as captured)
    bool compress = false;         // extract to .h5: gzip (level 4) with the shuffle filter
    bool resume = false;           // extract: continue a killed run of the same command
    std::string matVersion;        // extract to .mat: "5" or "7.3"; empty: v5 unless a variable needs v7.3
    ExtractionJob job;
};

// `atlas`: the options it shares with extract (inputs, preprocessing, shard ...), and its own.
struct AtlasOptions {
    ExtractOptions run; // run.job.outputPath is the atlas
    int top = 9;
    std::string score = "max";
};

// `cam`: the options it shares with extract, and the attribution's own.
struct CamOptions {
    ExtractOptions run; // run.job.outputPath is the .npz
    std::string method = "gradcam";
    std::string classChoice = "top"; // "top" or a class index
    int samples = 25;                // smoothgrad
    double noise = 0.15;
    std::uint64_t seed = 0;
    int steps = 50; // integrated-gradients
    std::string baseline = "zeros";
    int leadingTokens = -1;    // token outputs: tokens before the patches; -1 detects 0 or 1
    std::string tokenGrid;     // "HxW" of the patches; "" detects a square
    std::string overlayFolder; // PNGs of each input with its map over it
    std::string colormap = "jet";
    double opacity = 0.5;
};

struct AtlasShowOptions {
    std::string atlas, layer;
    std::int64_t channel = -1;
    bool bottom = false, stats = false, dead = false;
};

struct AtlasMergeOptions {
    std::vector<std::string> shards;
    std::string out;
    bool quiet = false; // merge: no progress output
};

struct CommandLine {
    CLI::App* modules = nullptr;
    CLI::App* extract = nullptr;
    CLI::App* atlas = nullptr;
    CLI::App* atlasShow = nullptr;
    CLI::App* atlasMerge = nullptr;
    CLI::App* cam = nullptr;
    CLI::App* merge = nullptr;
    std::string modulesModel;
    LoadOptions modulesLoad;
    ExtractOptions extraction;
    AtlasOptions atlasBuild;
    AtlasShowOptions atlasShowing;
    AtlasMergeOptions atlasMerging;
    AtlasMergeOptions merging; // extract's shards: the same two options
    CamOptions attribution;

    // The options of the command that runs a model over inputs (extract, atlas or cam), or null.
    ExtractOptions* runOptions();
};

// Declares the commands and options on `app`, which writes what it parses into `line`.
void declareCommandLine(CLI::App& app, CommandLine& line);

// Parses `arguments` (the program's name excluded) into `app`. CLI11 2.1 (Debian 12) loops forever
// on an empty argument followed by an option that lacks its value (`extract m.pt "" --threads`,
// found by fuzz_cli), so empty arguments are refused before CLI11 sees them. Throws CLI::ParseError
// (CLI11's own messages and --help) or layerscope::Error.
void parseArguments(CLI::App& app, const std::vector<std::string>& arguments);

// After parseArguments(): checks the values and completes the run's job (preprocessing, shard).
// Throws layerscope::Error naming the option and the cause.
void checkCommandLine(CommandLine& line);

// --shard auto: this Slurm array task's shard (index, count) from SLURM_ARRAY_TASK_ID, _MIN, _MAX,
// _COUNT and _STEP as `environment` gives them (std::getenv). Throws layerscope::Error naming what
// is missing or wrong.
std::pair<int, int> slurmArrayShard(const std::function<const char*(const char*)>& environment);

// The maximum --threads: four per core this process may use.
int maxThreads();

} // namespace layerscope::cli
