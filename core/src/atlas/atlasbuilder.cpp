#include "atlas/atlasfile_p.h"
#include "atlas/channelscores_p.h"

#include "formats/atomicfile_p.h"
#include "formats/stagedarray_p.h"
#include "formats/staging_p.h"
#include "layerscope/error.h"
#include "layerscope/statistics.h"
#include "paths_p.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sys/stat.h>

namespace layerscope {

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
    std::unique_ptr<detail::StagingFolder> staging;
    std::vector<LayerState> layers;
    std::unique_ptr<detail::StagedArray> rows, predictedClass, predictedScore;
    std::ofstream imageList;
    std::int64_t images = 0;

    void startLayer(LayerState& state, std::size_t index, const Tensor& first);
    void addLayer(LayerState& state, const std::vector<std::int64_t>& rows, const Tensor& capture);
    void addPredictions(std::int64_t batch, const Tensor& output);
    void stage(std::unique_ptr<detail::StagedArray>& array, const std::string& name, const Tensor& rows);
};

void AtlasBuilder::Impl::stage(std::unique_ptr<detail::StagedArray>& array, const std::string& name, const Tensor& rows)
{
    if (!array)
        array = std::make_unique<detail::StagedArray>(name, staging->path() + "/" + name + ".npy", outputPath, rows);
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

AtlasBuilder::AtlasBuilder(std::string outputPath, AtlasInfo info)
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
    impl_->staging = std::make_unique<detail::StagingFolder>(outputPath);
    for (const std::string& capture : impl_->info.captures) {
        LayerState state;
        state.layer.capture = capture;
        impl_->layers.push_back(std::move(state));
    }
    impl_->imageList.open(impl_->staging->path() + "/" + detail::kAtlasImages);
    if (!impl_->imageList)
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
    for (const std::string& file : files)
        impl_->imageList << detail::imageLine(file);
    if (!impl_->imageList)
        detail::throwWriteError(impl_->outputPath, errno);
    impl_->images += std::int64_t(rows.size());
}

void AtlasBuilder::addSkipped(const std::string& line) { impl_->info.skipped.push_back(line); }

void AtlasBuilder::setDatasetRows(std::int64_t rows, const std::string& modelSha256)
{
    impl_->info.datasetRows = rows;
    impl_->info.modelSha256 = modelSha256;
}

std::int64_t AtlasBuilder::images() const { return impl_->images; }

void AtlasBuilder::finish()
{
    if (impl_->images == 0)
        throw Error(impl_->outputPath + ": no image could be read, so there is no atlas to write");
    impl_->imageList.close();
    if (!impl_->imageList)
        detail::throwWriteError(impl_->outputPath, errno);
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
    detail::publishAtlas(*impl_->staging, impl_->outputPath);
}

} // namespace layerscope
