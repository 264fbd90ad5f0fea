#include "cliarguments.h"

#include "layerscope/attribution.h"
#include "layerscope/render.h"

#include "layerscope/error.h"
#include "layerscope/preprocessing.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <thread>

namespace layerscope::cli {

namespace {

std::vector<float> parseFloats(const std::string& text, const char* option)
{
    std::vector<float> values;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        std::size_t used = 0;
        float value = 0;
        try {
            value = std::stof(item, &used);
        } catch (const std::exception&) {
            throw Error(std::string(option) + ": '" + item + "' is not a number");
        }
        if (used != item.size())
            throw Error(std::string(option) + ": '" + item + "' is not a number");
        if (!std::isfinite(value))
            throw Error(std::string(option) + ": '" + item + "' is not a finite number");
        values.push_back(value);
    }
    if (values.empty())
        throw Error(std::string(option) + ": give one number per channel, separated by commas");
    return values;
}

int parseSide(const std::string& text, const std::string& whole, const char* option)
{
    if (text.empty() || text.size() > 6 || text.find_first_not_of("0123456789") != std::string::npos)
        throw Error(std::string(option) + ": '" + whole + "' is not a size like 224 or 224x160");
    const int side = std::stoi(text);
    if (side < 1 || side > kMaxImageSide)
        throw Error(std::string(option) + ": " + text + " is outside 1.." + std::to_string(kMaxImageSide) + " pixels");
    return side;
}

// "224x160" or "224" (square).
std::pair<int, int> parseSize(const std::string& text, const char* option)
{
    const auto x = text.find('x');
    if (x == std::string::npos) {
        const int side = parseSide(text, text, option);
        return {side, side};
    }
    return {parseSide(text.substr(0, x), text, option), parseSide(text.substr(x + 1), text, option)};
}

Preprocessing preprocessingFrom(const ExtractOptions& o)
{
    Preprocessing p;
    if (o.preset == "imagenet")
        p = Preprocessing::imagenet();
    else if (o.preset == "gray")
        p = Preprocessing::gray();
    else if (!o.preset.empty())
        throw Error("--preset: unknown preset '" + o.preset + "' (imagenet, gray)");
    if (!o.resize.empty()) {
        std::tie(p.resizeWidth, p.resizeHeight) = parseSize(o.resize, "--resize");
        p.resize = ResizeMode::Exact;
    }
    if (o.resizeShorter != 0) {
        if (o.resizeShorter < 1 || o.resizeShorter > kMaxImageSide)
            throw Error("--resize-shorter: " + std::to_string(o.resizeShorter) + " is outside 1.."
                        + std::to_string(kMaxImageSide) + " pixels");
        p.resize = ResizeMode::ShorterSide;
        p.resizeWidth = o.resizeShorter;
    }
    if (!o.crop.empty())
        std::tie(p.cropWidth, p.cropHeight) = parseSize(o.crop, "--crop");
    if (o.color == "gray")
        p.color = ColorMode::Gray;
    else if (o.color == "rgb")
        p.color = ColorMode::RGB;
    else if (o.color == "bgr")
        p.color = ColorMode::BGR;
    if (o.noScale)
        p.scaleTo01 = false;
    if (!o.mean.empty())
        p.mean = parseFloats(o.mean, "--mean");
    if (!o.std.empty())
        p.std = parseFloats(o.std, "--std");
    for (float s : p.std) {
        if (s == 0)
            throw Error("--std: a standard deviation of 0 divides by zero");
    }
    for (const auto* values : {&p.mean, &p.std}) {
        if (!values->empty() && int(values->size()) != p.channels())
            throw Error(std::string(values == &p.mean ? "--mean" : "--std") + ": " + std::to_string(values->size())
                        + (values->size() == 1 ? " value" : " values") + " for " + std::to_string(p.channels())
                        + (p.channels() == 1 ? " channel" : " channels") + " (--color "
                        + (p.color == ColorMode::Gray ? "gray" : "rgb/bgr") + ")");
    }
    if (o.interpolation == "area")
        p.interpolation = Interpolation::Area;
    else if (o.interpolation == "cubic")
        p.interpolation = Interpolation::Cubic;
    else if (o.interpolation == "nearest")
        p.interpolation = Interpolation::Nearest;
    return p;
}

// What extract and atlas share: the model, its inputs, which captures, preprocessing, batches, shard.
void declareRunOptions(CLI::App* command, ExtractOptions& options, const char* trustHelp)
{
    command->add_option("MODEL", options.model, "TorchScript or ONNX file")->required();
    command
        ->add_option("--input,-i", options.job.inputs,
                     "An image, a folder of images, or an .npy tensor per forward argument, in order")
        ->required();
    command->add_option(
        "--layer,-l", options.layers,
        "Qualified module name as named_modules() gives it, or a capture key: name:1, name>in (repeatable)");
    command->add_flag("--recursive,-r", options.job.recursive, "Look for images in subfolders too");
    command->add_option("--batch-size,-b", options.job.batchSize, "Images per forward (1..4096)")
        ->capture_default_str();
    command->add_option("--shard", options.shard,
                        "I/N: only every N-th image, starting at I (0-based); auto: from the Slurm array task");
    command->add_flag("--quiet,-q", options.quiet, "No progress output");
    command->add_flag("--trust-model", options.job.trustModel, trustHelp);
    command->add_option("--threads", options.threads,
                        "Threads for the forward (default: every core; at most 4 per core)");
    command->add_option("--streams", options.job.streams,
                        "Batches through the model side by side, sharing the threads (default: one per thread, at "
                        "most 4; 1 for ONNX). Each holds a batch's activations in memory");
    command->add_option("--max-pixels", options.maxPixels,
                        "Refuse images with more pixels than this, before decoding (default 178956970, as PIL)");
    auto* images = command->add_option_group("Image preprocessing", "Applied in this order");
    images->add_option("--preset", options.preset,
                       "imagenet (shorter side 256, crop 224, RGB, ImageNet mean/std) or gray (grayscale, [0,1])");
    images->add_option("--resize", options.resize, "Resize to WxH (or N for NxN)");
    images->add_option("--resize-shorter", options.resizeShorter, "Resize so that the shorter side is N");
    images->add_option("--crop", options.crop, "Center crop WxH (or N)");
    images->add_option("--color", options.color, "gray, rgb (default) or bgr")
        ->check(CLI::IsMember({"gray", "rgb", "bgr"}));
    images->add_flag("--no-scale", options.noScale, "Keep pixel values (0..255) instead of scaling to [0,1]");
    images->add_option("--mean", options.mean, "Per-channel mean to subtract: 0.485,0.456,0.406");
    images->add_option("--std", options.std, "Per-channel std to divide by: 0.229,0.224,0.225");
    images->add_option("--interpolation", options.interpolation, "linear (default), area, cubic or nearest")
        ->check(CLI::IsMember({"linear", "area", "cubic", "nearest"}));
}

} // namespace

ExtractOptions* CommandLine::runOptions()
{
    if (extract && *extract)
        return &extraction;
    if (atlas && *atlas)
        return &atlasBuild.run;
    if (cam && *cam)
        return &attribution.run;
    return nullptr;
}

int maxThreads() { return 4 * std::max(1u, std::thread::hardware_concurrency()); }

void declareCommandLine(CLI::App& app, CommandLine& line)
{
    app.require_subcommand(1);
    line.modules = app.add_subcommand("modules", "Print the module tree: qualified name, type, parameter count.");
    line.modules
        ->add_option(
            "MODEL", line.modulesModel,
            "TorchScript file (torch.jit.script or torch.jit.trace, then save) or ONNX file (torch.onnx.export)")
        ->required();
    const char* const trustHelp = "Open a model whose code calls operators that reach outside it (torch.from_file, "
                                  "torch.save ...): it runs with your rights, so only one from a source you trust";
    line.modules->add_flag("--trust-model", line.modulesLoad.trustModel, trustHelp);

    ExtractOptions& options = line.extraction;
    CLI::App* extract = line.extract
        = app.add_subcommand("extract",
                             "Run the model on images, folders of images or .npy tensors and write the chosen modules' "
                             "activations (.npz, .mat, .pt, .csv, .png, or a folder of .npy files).");
    declareRunOptions(extract, options, trustHelp);
    auto* all = extract->add_flag("--all", options.all, "Every module except the root");
    extract->get_option("--layer")->excludes(all);
    extract->add_flag("--with-inputs", options.withInputs, "Also save each chosen module's inputs ('name>in')");
    extract
        ->add_option(
            "--out,-o", options.job.outputPath,
            "Output: .npz, .mat, .pt, .csv, .png, .h5, or a folder (one .npy per capture); a manifest goes beside it")
        ->required();
    auto* smaller = extract->add_option_group("Smaller features", "Applied to each batch before it is written");
    smaller
        ->add_option("--pool", options.pool,
                     "avg or max: 4-D [N,C,H,W] captures to [N,C] over H,W; cls or mean: 3-D [N,T,D] token captures "
                     "to [N,D] (the first token, or the mean over tokens). Repeatable: --pool avg --pool cls")
        ->check(CLI::IsMember({"avg", "max", "cls", "mean"}));
    smaller
        ->add_option("--dtype", options.dtype, "float16: store floating captures in half precision (.npz, .npy, .pt)")
        ->check(CLI::IsMember({"float16", "float32"}));
    extract->add_flag("--compress", options.compress, "HDF5 output: gzip-compress the datasets (level 4, shuffled)");
    extract
        ->add_option("--mat-version", options.matVersion,
                     ".mat output: 5 (MATLAB v5, variables up to 2 GiB) or 7.3 (HDF5 inside, any size); "
                     "default: v5 unless a variable needs v7.3")
        ->check(CLI::IsMember({"5", "7.3"}));
    extract->add_flag("--resume", options.resume,
                      "Checkpoint after every batch (in .OUT.resume beside the output); the same command started "
                      "again after a kill or preemption continues from there and ends with the output an "
                      "uninterrupted run gives");
    auto* png = extract->add_option_group("PNG output");
    png->add_option("--colormap", options.colormap, "viridis, gray, magma, inferno, plasma, jet, turbo, diverging")
        ->capture_default_str();
    png->add_option("--normalize", options.normalization, "channel (each channel its own range) or layer")
        ->check(CLI::IsMember({"channel", "layer"}))
        ->capture_default_str();

    AtlasOptions& atlas = line.atlasBuild;
    line.atlas = app.add_subcommand(
        "atlas",
        "One pass over a folder of images: for every channel of the chosen captures, the images that "
        "score highest and lowest, and statistics; per image, pooled vectors and the predicted class.");
    declareRunOptions(line.atlas, atlas.run, trustHelp);
    line.atlas->get_option("--layer")->required();
    line.atlas->add_option("--top,-k", atlas.top, "Images kept per channel, top and bottom (1..10000)")
        ->capture_default_str();
    line.atlas->add_option("--score", atlas.score, "max (the channel's maximum over its map) or mean")
        ->check(CLI::IsMember({"max", "mean"}))
        ->capture_default_str();
    line.atlas->add_option("--out,-o", atlas.run.job.outputPath, "The atlas (a folder)")->required();
    line.atlas->add_flag("--resume", atlas.run.resume,
                         "Checkpoint after every batch (in .OUT.resume beside the atlas); the same command started "
                         "again after a kill or preemption continues from there and ends with the atlas an "
                         "uninterrupted run gives");

    CamOptions& cam = line.attribution;
    line.cam = app.add_subcommand(
        "cam",
        "Why the model predicts what it does: class activation maps of a module (Grad-CAM and relatives) or "
        "input gradients, computed on the compiled model.");
    declareRunOptions(line.cam, cam.run, trustHelp);
    line.cam->get_option("--layer")->description(
        "The target module (a capture key: name or name:1); not for the input methods");
    line.cam
        ->add_option("--method,-m", cam.method,
                     "gradcam, gradcampp, hirescam, layercam, eigencam (of a module); saliency, smoothgrad, "
                     "integrated-gradients (of the inputs)")
        ->check(CLI::IsMember(attributionMethodNames()))
        ->capture_default_str();
    line.cam->add_option("--class,-c", cam.classChoice, "top (each image's predicted class) or a class index")
        ->capture_default_str();
    line.cam->add_option("--samples", cam.samples, "smoothgrad: noisy copies averaged")
        ->check(CLI::Range(1, 10000))
        ->capture_default_str();
    line.cam->add_option("--noise", cam.noise, "smoothgrad: noise sigma as a fraction of each input's range")
        ->check(CLI::Range(0.0, 10.0))
        ->capture_default_str();
    line.cam->add_option("--seed", cam.seed, "smoothgrad: the noise's seed (the same seed, the same maps)")
        ->capture_default_str();
    line.cam->add_option("--steps", cam.steps, "integrated-gradients: steps from the baseline to the input")
        ->check(CLI::Range(1, 10000))
        ->capture_default_str();
    line.cam
        ->add_option("--baseline", cam.baseline,
                     "integrated-gradients: zeros, or blur (the input through a Gaussian, sigma max(H,W)/16)")
        ->check(CLI::IsMember({"zeros", "blur"}))
        ->capture_default_str();
    line.cam
        ->add_option("--leading-tokens", cam.leadingTokens,
                     "Token outputs [N,T,D]: tokens before the patch grid (class, distillation); default: "
                     "1 or 0, whichever leaves a square grid")
        ->check(CLI::Range(0, 1 << 20));
    line.cam->add_option("--token-grid", cam.tokenGrid, "Token outputs: the patch grid, HxW (default: square)");
    line.cam
        ->add_option("--out,-o", cam.run.job.outputPath,
                     "An .npz: cam [N,h,w] float32, class [N] int64, score [N] float32; a manifest beside it")
        ->required();
    line.cam->add_option("--overlay", cam.overlayFolder,
                         "Also write each input with its map over it (upsampled, normalised, coloured) as PNG here");
    line.cam->add_option("--colormap", cam.colormap, "--overlay: the map's colours")
        ->check(CLI::IsMember(colormapNames()))
        ->capture_default_str();
    line.cam->add_option("--opacity", cam.opacity, "--overlay: how much of the map covers the image, 0..1")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();

    AtlasShowOptions& show = line.atlasShowing;
    line.atlasShow
        = app.add_subcommand("atlas-show", "Print an atlas's rankings or statistics as tab-separated lines.");
    line.atlasShow->add_option("ATLAS", show.atlas, "An atlas written by `atlas` or `atlas-merge`")->required();
    line.atlasShow->add_option("--layer,-l", show.layer, "A capture of the atlas")->required();
    auto* channel = line.atlasShow->add_option("--channel,-c", show.channel,
                                               "rank, file, score, y, x of the channel's top images");
    line.atlasShow->add_flag("--bottom", show.bottom, "The lowest-scoring images instead")->needs(channel);
    auto* stats = line.atlasShow->add_flag("--stats", show.stats, "channel, mean, std, min, max, active, nan, inf");
    auto* dead = line.atlasShow->add_flag("--dead", show.dead, "The channels whose score is never above zero");
    channel->excludes(stats)->excludes(dead);
    stats->excludes(dead);

    line.merge = app.add_subcommand(
        "merge", "Put the shards of one extract or cam job (--shard I/N) back together, in data-set order.");
    line.merge
        ->add_option("SHARD", line.merging.shards,
                     "Every shard's output (.npz, .pt, .h5, .mat or a folder of .npy), with its manifest")
        ->required();
    line.merge->add_option("--out,-o", line.merging.out, "The merged output, any format extract writes")->required();
    line.merge->add_flag("--quiet,-q", line.merging.quiet, "No progress output");

    AtlasMergeOptions& merge = line.atlasMerging;
    line.atlasMerge
        = app.add_subcommand("atlas-merge", "Merge the atlases of one job's shards (--shard I/N) into one.");
    line.atlasMerge->add_option("SHARD", merge.shards, "Every shard's atlas")->required();
    line.atlasMerge->add_option("--out,-o", merge.out, "The merged atlas")->required();
}

void parseArguments(CLI::App& app, const std::vector<std::string>& arguments)
{
    for (std::size_t i = 0; i < arguments.size(); ++i) {
        if (arguments[i].empty())
            throw Error("argument " + std::to_string(i + 1) + " is empty (an unset shell variable?)");
    }
    std::vector<std::string> reversed(arguments.rbegin(), arguments.rend()); // CLI11 parses from the back
    app.parse(reversed);
}

std::pair<int, int> slurmArrayShard(const std::function<const char*(const char*)>& environment)
{
    auto number = [&](const char* name) -> std::optional<long long> {
        const char* text = environment(name);
        if (!text || !*text)
            return std::nullopt;
        char* end = nullptr;
        errno = 0;
        const long long value = std::strtoll(text, &end, 10);
        if (*end || errno || value < 0 || value > 100000000)
            throw Error(std::string("--shard auto: ") + name + "='" + text + "' is not a task number");
        return value;
    };
    const auto id = number("SLURM_ARRAY_TASK_ID");
    if (!id)
        throw Error("--shard auto: SLURM_ARRAY_TASK_ID is not set: run this as a task of a Slurm job array "
                    "(sbatch --array=0-3), or give the shard as I/N (a Kubernetes Indexed Job: "
                    "--shard $JOB_COMPLETION_INDEX/N)");
    const auto min = number("SLURM_ARRAY_TASK_MIN"), max = number("SLURM_ARRAY_TASK_MAX");
    const auto count = number("SLURM_ARRAY_TASK_COUNT");
    const long long step = number("SLURM_ARRAY_TASK_STEP").value_or(1), first = min.value_or(0);
    if (step < 1)
        throw Error("--shard auto: SLURM_ARRAY_TASK_STEP is 0");
    const long long tasks = count ? *count : (min && max ? (*max - *min) / step + 1 : 0);
    if (tasks < 1)
        throw Error("--shard auto: the array's size is unknown: neither SLURM_ARRAY_TASK_COUNT nor "
                    "SLURM_ARRAY_TASK_MIN and SLURM_ARRAY_TASK_MAX are set");
    // A list (--array=1,5,7) is no range of steps: task IDs would not name shards 0..N-1.
    if (min && max && (*max - *min) / step + 1 != tasks)
        throw Error("--shard auto: the array " + std::to_string(*min) + "-" + std::to_string(*max) + " has "
                    + std::to_string(tasks) + " tasks, not a range: submit it as --array=0-"
                    + std::to_string(tasks - 1));
    if (*id < first || (*id - first) % step != 0 || (*id - first) / step >= tasks)
        throw Error("--shard auto: task " + std::to_string(*id) + " is not in the array of " + std::to_string(tasks)
                    + " tasks from " + std::to_string(first));
    return {int((*id - first) / step), int(tasks)};
}

void checkCommandLine(CommandLine& line)
{
    if (line.atlas && *line.atlas && (line.atlasBuild.top < 1 || line.atlasBuild.top > 10000))
        throw Error("--top: " + std::to_string(line.atlasBuild.top) + " is outside 1..10000");
    if (line.atlasShow && *line.atlasShow && !line.atlasShowing.stats && !line.atlasShowing.dead
        && line.atlasShowing.channel < 0)
        throw Error("atlas-show: choose --channel C (0 or more), --stats or --dead");
    ExtractOptions* run = line.runOptions();
    if (!run)
        return;
    ExtractOptions& options = *run;
    ExtractionJob& job = options.job;
    if (options.threads != 0 && (options.threads < 1 || options.threads > maxThreads()))
        throw Error("--threads: " + std::to_string(options.threads) + " is outside 1.." + std::to_string(maxThreads())
                    + " (4 per core)");
    if (job.streams < 0 || job.streams > 64)
        throw Error("--streams: " + std::to_string(job.streams) + " is outside 1..64");
    if (job.batchSize < 1 || job.batchSize > kMaxBatchSize)
        throw Error("--batch-size: " + std::to_string(job.batchSize) + " is outside 1.."
                    + std::to_string(kMaxBatchSize));
    if (options.maxPixels < 0)
        throw Error("--max-pixels: " + std::to_string(options.maxPixels) + " is not a number of pixels");
    if (options.shard == "auto") {
        const auto [index, count] = slurmArrayShard([](const char* name) { return std::getenv(name); });
        job.shardIndex = index, job.shardCount = count;
    } else if (!options.shard.empty()) {
        const auto slash = options.shard.find('/');
        const std::string index = options.shard.substr(0, slash),
                          count = slash == std::string::npos ? "" : options.shard.substr(slash + 1);
        auto isCount = [](const std::string& text) {
            return !text.empty() && text.size() <= 9 && text.find_first_not_of("0123456789") == std::string::npos;
        };
        if (!isCount(index) || !isCount(count))
            throw Error("--shard: '" + options.shard + "' is not I/N, like 0/4");
        job.shardIndex = std::stoi(index);
        job.shardCount = std::stoi(count);
        if (job.shardCount < 1 || job.shardIndex >= job.shardCount)
            throw Error("--shard: " + options.shard + " does not exist: use I/N with 0 <= I < N");
    }
    job.preprocessing = preprocessingFrom(options);
    for (const std::string& pool : options.pool) {
        const bool maps = pool == "avg" || pool == "max";
        if ((maps && job.reduce.maps != MapPooling::None) || (!maps && job.reduce.tokens != TokenPooling::None))
            throw Error("--pool: one of avg and max (4-D captures) and one of cls and mean (3-D), not both");
        if (maps)
            job.reduce.maps = pool == "max" ? MapPooling::Max : MapPooling::Average;
        else
            job.reduce.tokens = pool == "cls" ? TokenPooling::ClassToken : TokenPooling::Mean;
    }
    job.reduce.float16 = options.dtype == "float16";
    if (options.compress && !job.outputPath.empty() && exportFormatFor(job.outputPath) != ExportFormat::Hdf5)
        throw Error("--compress: " + job.outputPath + ": only HDF5 output (.h5) is compressed");
    job.exportOptions.compression = options.compress ? 4 : 0;
    job.resume = options.resume;
    if (!options.matVersion.empty() && !job.outputPath.empty() && exportFormatFor(job.outputPath) != ExportFormat::Mat)
        throw Error("--mat-version: " + job.outputPath + " is not a .mat file");
    job.exportOptions.matVersion = options.matVersion == "5" ? 5 : options.matVersion == "7.3" ? 73 : 0;
}

} // namespace layerscope::cli
