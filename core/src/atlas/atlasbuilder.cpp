#include "atlas/atlascheckpoint_p.h"
#include "atlas/atlasfile_p.h"
#include "atlas/channelscores_p.h"

#include "formats/atomicfile_p.h"
#include "formats/stagedarray_p.h"
#include "formats/staging_p.h"
#include "layerscope/error.h"
#include "layerscope/exporters.h"
#include "layerscope/statistics.h"
#include "paths_p.h"

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

namespace layerscope {

namespace fs = std::filesystem;

namespace {

// A capture as float32 values: itself when it is float32 already, else a converted copy.
std::shared_ptr<const float> asFloats(const std::string& capture, const Tensor& tensor)
{
    if (tensor.dtype == DType::Float32)
        return std::static_pointer_cast<const float>(tensor.data);
    switch (tensor.dtype) {
    case DType::Float64:
    case DType::Float16:
    case DType::BFloat16: {
        const std::vector<double> values = valuesAsDoubles(tensor);
        auto floats = std::make_shared<std::vector<float>>(values.begin(), values.end());
        return std::shared_ptr<const float>(floats, floats->data());
    }
    default:
        throw Error("capture '" + capture + "' is " + dtypeName(tensor.dtype)
                    + "; an atlas scores floating-point captures");
    }
}

Tensor rowsTensor(const float* values, std::int64_t images, std::int64_t channels)
{
    Tensor tensor = Tensor::zeros({images, channels}, DType::Float32);
    std::copy(values, values + images * channels, static_cast<float*>(tensor.mutableData()));
    return tensor;
}

} // namespace

struct LayerState {
    AtlasLayer layer;
    std::vector<detail::BoundedRanking> top, bottom;
    std::unique_ptr<detail::StagedArray> pooled;
};

struct AtlasBuilder::Impl {
    std::string outputPath;
    AtlasInfo info;
    bool resumable = false;
    std::unique_ptr<detail::StagingFolder> staging;
    std::vector<LayerState> layers;
    std::unique_ptr<detail::StagedArray> rows, predictedClass, predictedScore;
    int imageList = -1; // images.jsonl, appended a batch at a time
    std::uint64_t imageListBytes = 0;
    std::int64_t images = 0;
    std::string resumedState;
    // A checkpoint's cost grows with channels x K (the rankings): see checkpoint().
    std::chrono::steady_clock::time_point lastCheckpointEnd;
    std::chrono::steady_clock::duration lastCheckpointCost {};

    ~Impl()
    {
        if (imageList >= 0)
            ::close(imageList);
    }
    std::string checkpointFile() const { return staging->path() + "/checkpoint.json"; }
    std::string stagedFile(const std::string& name) const { return staging->path() + "/" + name + ".npy"; }
    void reopen(const std::string& checkpointJson);
    void startLayer(LayerState& state, std::size_t index, const Tensor& first);
    void addLayer(LayerState& state, const std::vector<std::int64_t>& rows, const Tensor& capture);
    void addPredictions(std::int64_t batch, const Tensor& output);
    void stage(std::unique_ptr<detail::StagedArray>& array, const std::string& name, const Tensor& rows);
};

void AtlasBuilder::Impl::stage(std::unique_ptr<detail::StagedArray>& array, const std::string& name, const Tensor& rows)
{
    if (!array)
        array = std::make_unique<detail::StagedArray>(name, stagedFile(name), outputPath, rows);
    array->append(rows);
}

void AtlasBuilder::Impl::startLayer(LayerState& state, std::size_t index, const Tensor& first)
{
    const detail::ChannelLayout layout = detail::channelLayoutOf(state.layer.capture, first.shape);
    state.layer.kind = layout.kind;
    state.layer.sampleShape.assign(first.shape.begin() + 1, first.shape.end());
    state.top.assign(std::size_t(layout.channels), detail::BoundedRanking(info.topK, true));
    state.bottom.assign(std::size_t(layout.channels), detail::BoundedRanking(info.topK, false));
    const std::string folder = staging->path() + "/" + detail::layerFolderName(index);
    if (::mkdir(folder.c_str(), 0755) != 0)
        detail::throwWriteError(outputPath, errno);
}

void AtlasBuilder::Impl::addLayer(LayerState& state, const std::vector<std::int64_t>& rows, const Tensor& capture)
{
    if (capture.shape.empty() || capture.shape[0] != std::int64_t(rows.size()))
        throw Error("capture '" + state.layer.capture + "' has " + shapeToString(capture.shape) + " for a batch of "
                    + std::to_string(rows.size()) + " images");
    if (std::vector<std::int64_t>(capture.shape.begin() + 1, capture.shape.end()) != state.layer.sampleShape)
        throw Error("capture '" + state.layer.capture + "' changed shape from " + shapeToString(state.layer.sampleShape)
                    + " to " + shapeToString(capture.shape)
                    + " (without the batch axis) between images; resize the inputs");
    const detail::ChannelLayout layout = detail::channelLayoutOf(state.layer.capture, capture.shape);
    const std::shared_ptr<const float> values = asFloats(state.layer.capture, capture);
    const detail::BatchScores scores = detail::scoreBatch(values.get(), layout, info.score, state.layer.statistics);
    for (std::int64_t image = 0; image < layout.batch; ++image)
        for (std::int64_t c = 0; c < layout.channels; ++c) {
            const std::size_t at = std::size_t(image * layout.channels + c);
            AtlasEntry entry {rows[std::size_t(image)], scores.score[at], -1, -1};
            const std::int32_t position = scores.argmax[at];
            if (layout.kind == AtlasCaptureKind::Map && position >= 0)
                entry.y = std::int32_t(position / layout.width), entry.x = std::int32_t(position % layout.width);
            else if (layout.kind == AtlasCaptureKind::Tokens)
                entry.y = position;
            state.top[std::size_t(c)].offer(entry);
            state.bottom[std::size_t(c)].offer(entry);
        }
    stage(state.pooled, detail::layerFolderName(std::size_t(&state - layers.data())) + "/pooled",
          rowsTensor(scores.pooled.data(), layout.batch, layout.channels));
}

void AtlasBuilder::Impl::addPredictions(std::int64_t batch, const Tensor& output)
{
    Tensor classes = Tensor::zeros({batch}, DType::Int64);
    Tensor scores = Tensor::zeros({batch}, DType::Float32);
    auto* classOf = static_cast<std::int64_t*>(classes.mutableData());
    auto* scoreOf = static_cast<float*>(scores.mutableData());
    const bool classifier = output.shape.size() == 2 && output.shape[0] == batch && output.shape[1] > 0
        && (output.dtype == DType::Float32 || output.dtype == DType::Float64);
    std::vector<double> logits = classifier ? valuesAsDoubles(output) : std::vector<double>();
    for (std::int64_t image = 0; image < batch; ++image) {
        classOf[image] = -1, scoreOf[image] = std::nanf("");
        if (!classifier)
            continue;
        const std::int64_t classes = output.shape[1];
        for (std::int64_t k = 0; k < classes; ++k) {
            const double v = logits[std::size_t(image * classes + k)];
            if (!std::isnan(v) && (classOf[image] < 0 || v > double(scoreOf[image])))
                classOf[image] = k, scoreOf[image] = float(v);
        }
    }
    stage(predictedClass, "predicted_class", classes);
    stage(predictedScore, "predicted_score", scores);
}

// The arrays, image list, rankings and statistics as the last checkpoint left them; anything written
// after it is cut.
void AtlasBuilder::Impl::reopen(const std::string& checkpointJson)
{
    const std::string damaged = outputPath + ": the resume state in " + staging->path() + " is damaged";
    try {
        const nlohmann::json saved = nlohmann::json::parse(checkpointJson);
        const auto captures = saved.at("captures").get<std::vector<std::string>>();
        if (captures != info.captures) {
            std::string was, now;
            for (const auto& c : captures)
                was += (was.empty() ? "" : ", ") + c;
            for (const auto& c : info.captures)
                now += (now.empty() ? "" : ", ") + c;
            throw Error("--resume: " + outputPath + " was started with other captures (" + was + "; now " + now
                        + "); run the same command, or remove " + resumeStatePathFor(outputPath) + " to start again");
        }
        images = saved.at("images").get<std::int64_t>();
        if (images <= 0 || saved.at("state").at("rows").get<std::int64_t>() != images)
            throw std::invalid_argument(std::to_string(images) + " images, but the run wrote "
                                        + saved.at("state").at("rows").dump() + " rows");
        for (std::size_t i = 0; i < layers.size(); ++i) {
            LayerState& state = layers[i];
            state.layer = detail::layerFromCheckpoint(saved.at("layers").at(i));
            // The rankings must fit what the capture's shape says: a batch indexes them by channel.
            std::vector<std::int64_t> one {1};
            one.insert(one.end(), state.layer.sampleShape.begin(), state.layer.sampleShape.end());
            const detail::ChannelLayout layout = detail::channelLayoutOf(state.layer.capture, one);
            const std::size_t channels = state.layer.statistics.size();
            if (state.layer.capture != info.captures[i] || layout.kind != state.layer.kind
                || std::size_t(layout.channels) != channels)
                throw std::invalid_argument("capture " + std::to_string(i) + " does not match its shape");
            state.top.assign(channels, detail::BoundedRanking(info.topK, true));
            state.bottom.assign(channels, detail::BoundedRanking(info.topK, false));
            for (std::size_t c = 0; c < channels; ++c) {
                for (const AtlasEntry& entry : state.layer.top[c])
                    state.top[c].offer(entry);
                for (const AtlasEntry& entry : state.layer.bottom[c])
                    state.bottom[c].offer(entry);
            }
            state.layer.top.clear(), state.layer.bottom.clear(); // finish() fills them from the rankings
            const std::string pooled = detail::layerFolderName(i) + "/pooled";
            state.pooled = std::make_unique<detail::StagedArray>(pooled, stagedFile(pooled), outputPath,
                                                                 std::vector<std::int64_t> {std::int64_t(channels)},
                                                                 DType::Float32, images);
        }
        rows = std::make_unique<detail::StagedArray>("rows", stagedFile("rows"), outputPath,
                                                     std::vector<std::int64_t> {}, DType::Int64, images);
        predictedClass
            = std::make_unique<detail::StagedArray>("predicted_class", stagedFile("predicted_class"), outputPath,
                                                    std::vector<std::int64_t> {}, DType::Int64, images);
        predictedScore
            = std::make_unique<detail::StagedArray>("predicted_score", stagedFile("predicted_score"), outputPath,
                                                    std::vector<std::int64_t> {}, DType::Float32, images);
        imageListBytes = saved.at("images_bytes").get<std::uint64_t>();
        const std::string list = staging->path() + "/" + detail::kAtlasImages;
        imageList = ::open(list.c_str(), O_WRONLY | O_CLOEXEC);
        struct stat status { };
        if (imageList >= 0 && ::fstat(imageList, &status) == 0 && std::uint64_t(status.st_size) < imageListBytes)
            throw Error(damaged + " (" + list + " is shorter than its checkpoint says); remove it to start again");
        if (imageList < 0 || ::ftruncate(imageList, off_t(imageListBytes)) != 0
            || ::lseek(imageList, off_t(imageListBytes), SEEK_SET) != off_t(imageListBytes))
            throw Error(damaged + " (" + list + ": " + std::strerror(errno) + ")");
        resumedState = saved.at("state").dump();
    } catch (const nlohmann::json::exception& error) {
        throw Error(damaged + " (" + error.what() + "); remove it to start again");
    } catch (const std::invalid_argument& error) {
        throw Error(damaged + " (" + error.what() + "); remove it to start again");
    }
}

AtlasBuilder::AtlasBuilder(std::string outputPath, AtlasInfo info, bool resumable)
    : impl_(std::make_unique<Impl>())
{
    outputPath = detail::withoutTrailingSlashes(std::move(outputPath));
    if (info.topK <= 0)
        throw Error("--top must be at least 1");
    if (info.captures.empty())
        throw Error("no capture chosen for the atlas; name one with --layer");
    detail::checkAtlasTarget(outputPath);
    impl_->outputPath = outputPath;
    impl_->info = std::move(info);
    impl_->resumable = resumable;
    impl_->staging = resumable
        ? std::make_unique<detail::StagingFolder>(outputPath, detail::StagingFolder::Resumable {})
        : std::make_unique<detail::StagingFolder>(outputPath);
    for (const std::string& capture : impl_->info.captures) {
        LayerState state;
        state.layer.capture = capture;
        impl_->layers.push_back(std::move(state));
    }
    std::ifstream checkpoint(impl_->checkpointFile(), std::ios::binary);
    if (resumable && impl_->staging->resumed() && checkpoint) {
        impl_->reopen(std::string(std::istreambuf_iterator<char>(checkpoint), {}));
        return;
    }
    if (resumable && impl_->staging->resumed()) // killed before its first checkpoint: nothing of it is kept
        for (const auto& entry : fs::directory_iterator(impl_->staging->path()))
            if (entry.path().filename() != detail::kStagingMarker)
                fs::remove_all(entry.path());
    const std::string list = impl_->staging->path() + "/" + detail::kAtlasImages;
    impl_->imageList = ::open(list.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (impl_->imageList < 0)
        detail::throwWriteError(outputPath, errno);
}

AtlasBuilder::~AtlasBuilder() = default;

void AtlasBuilder::add(const std::vector<std::int64_t>& rows, const std::vector<std::string>& files,
                       const std::map<std::string, Tensor>& captures, const Tensor& output)
{
    if (rows.empty())
        return;
    if (files.size() != rows.size())
        throw Error("atlas: " + std::to_string(files.size()) + " files for " + std::to_string(rows.size()) + " rows");
    for (std::size_t i = 0; i < impl_->layers.size(); ++i) {
        LayerState& state = impl_->layers[i];
        const auto it = captures.find(state.layer.capture);
        if (it == captures.end())
            throw Error("capture '" + state.layer.capture + "' was not recorded in this forward");
        if (impl_->images == 0)
            impl_->startLayer(state, i, it->second);
        impl_->addLayer(state, rows, it->second);
    }
    impl_->stage(impl_->rows, "rows", vectorTensor(rows));
    impl_->addPredictions(std::int64_t(rows.size()), output);
    std::string lines;
    for (const std::string& file : files)
        lines += detail::imageLine(file);
    detail::writeFully(impl_->imageList, lines.data(), lines.size(), impl_->outputPath);
    impl_->imageListBytes += lines.size();
    impl_->images += std::int64_t(rows.size());
}

void AtlasBuilder::addSkipped(const std::string& line) { impl_->info.skipped.push_back(line); }

void AtlasBuilder::setDatasetRows(std::int64_t rows, const std::string& modelSha256)
{
    impl_->info.datasetRows = rows;
    impl_->info.modelSha256 = modelSha256;
}

std::int64_t AtlasBuilder::images() const { return impl_->images; }

void AtlasBuilder::checkpoint(const std::string& runState)
{
    if (!impl_->resumable)
        throw Error(impl_->outputPath + ": a checkpoint needs a resumable atlas builder");
    if (impl_->images == 0)
        return; // nothing to resume from yet
    // At most a tenth of the run goes to checkpoints: one is skipped while less than ten times the last
    // one's cost has passed since it (every batch for the usual K; a checkpoint of 2048 channels with
    // K = 10000 takes long).
    const auto started = std::chrono::steady_clock::now();
    if (impl_->lastCheckpointCost.count() > 0 && started - impl_->lastCheckpointEnd < 10 * impl_->lastCheckpointCost)
        return;
    nlohmann::json saved
        = {{"captures", impl_->info.captures}, {"images", impl_->images}, {"images_bytes", impl_->imageListBytes}};
    for (auto* array : {&impl_->rows, &impl_->predictedClass, &impl_->predictedScore})
        (*array)->sync();
    if (::fdatasync(impl_->imageList) != 0)
        detail::throwWriteError(impl_->outputPath, errno);
    nlohmann::json layers = nlohmann::json::array();
    for (LayerState& state : impl_->layers) {
        state.pooled->sync();
        AtlasLayer layer = state.layer; // its rankings as they stand
        for (std::size_t c = 0; c < state.top.size(); ++c) {
            layer.top.push_back(state.top[c].sorted());
            layer.bottom.push_back(state.bottom[c].sorted());
        }
        layers.push_back(detail::layerCheckpoint(layer));
    }
    saved["layers"] = layers;
    saved["state"] = nlohmann::json::parse(runState);
    detail::replaceDurably(impl_->checkpointFile(), saved.dump(), impl_->outputPath);
    impl_->lastCheckpointEnd = std::chrono::steady_clock::now();
    impl_->lastCheckpointCost = impl_->lastCheckpointEnd - started;
}

const std::string& AtlasBuilder::resumedState() const { return impl_->resumedState; }

std::vector<std::string> AtlasBuilder::finish()
{
    if (impl_->images == 0)
        throw Error(impl_->outputPath + ": no image could be read, so there is no atlas to write");
    if (::close(impl_->imageList) != 0) {
        impl_->imageList = -1;
        detail::throwWriteError(impl_->outputPath, errno);
    }
    impl_->imageList = -1;
    std::vector<AtlasLayer> layers;
    for (std::size_t i = 0; i < impl_->layers.size(); ++i) {
        LayerState& state = impl_->layers[i];
        for (std::size_t c = 0; c < state.top.size(); ++c) {
            state.layer.top.push_back(state.top[c].sorted());
            state.layer.bottom.push_back(state.bottom[c].sorted());
        }
        detail::writeLayerArrays(impl_->staging->path() + "/" + detail::layerFolderName(i), state.layer,
                                 impl_->info.topK);
        state.pooled->finish();
        state.pooled.reset();
        layers.push_back(std::move(state.layer));
    }
    for (auto* array : {&impl_->rows, &impl_->predictedClass, &impl_->predictedScore}) {
        (*array)->finish();
        array->reset();
    }
    const std::string json = detail::atlasJson(impl_->info, layers);
    detail::AtomicFile description(impl_->staging->path() + "/" + detail::kAtlasJson);
    description.write(json.data(), json.size());
    description.commit();
    // The checkpoint goes last: until the atlas is complete, a kill here still resumes from it.
    for (const std::string& file : {impl_->checkpointFile(), impl_->checkpointFile() + ".new"})
        if (::unlink(file.c_str()) != 0 && errno != ENOENT)
            detail::throwWriteError(impl_->outputPath, errno);
    detail::publishAtlas(*impl_->staging, impl_->outputPath);
    std::vector<std::string> notes;
    if (!impl_->resumable && detail::removeStaleResumeState(impl_->outputPath))
        notes.push_back("removed " + resumeStatePathFor(impl_->outputPath)
                        + ", the state of an earlier --resume run that was killed: this complete atlas replaces it");
    return notes;
}

} // namespace layerscope
