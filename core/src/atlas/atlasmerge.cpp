#include "atlas/atlasfile_p.h"
#include "atlas/channelscores_p.h"

#include "formats/atomicfile_p.h"
#include "formats/staging_p.h"
#include "layerscope/error.h"
#include "layerscope/npy.h"
#include "paths_p.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <sys/stat.h>

namespace layerscope {

namespace {

std::string join(const std::vector<int>& values)
{
    std::string text;
    for (int v : values)
        text += (text.empty() ? "" : ", ") + std::to_string(v);
    return text;
}

// The first difference between two shards' descriptions that makes them parts of different jobs.
std::string differenceOf(const Atlas& a, const Atlas& b)
{
    const AtlasInfo& x = a.info();
    const AtlasInfo& y = b.info();
    if (x.modelSha256 != y.modelSha256)
        return "the model differs (SHA-256 " + x.modelSha256.substr(0, 12) + "… vs " + y.modelSha256.substr(0, 12)
            + "…)";
    if (x.inputs != y.inputs || x.recursive != y.recursive || x.datasetRows != y.datasetRows)
        return "the inputs differ";
    if (x.preprocessingJson != y.preprocessingJson)
        return "the preprocessing differs";
    if (x.score != y.score)
        return "the score differs (" + atlasScoreName(x.score) + " vs " + atlasScoreName(y.score) + ")";
    if (x.topK != y.topK)
        return "--top differs (" + std::to_string(x.topK) + " vs " + std::to_string(y.topK) + ")";
    if (x.shardCount != y.shardCount)
        return "the shard count differs (" + std::to_string(x.shardCount) + " vs " + std::to_string(y.shardCount) + ")";
    if (x.captures != y.captures)
        return "the captures differ";
    for (std::size_t i = 0; i < a.layers().size(); ++i)
        if (a.layers()[i].sampleShape != b.layers()[i].sampleShape)
            return "capture '" + a.layers()[i].capture + "' has shape " + shapeToString(a.layers()[i].sampleShape)
                + " in one and " + shapeToString(b.layers()[i].sampleShape) + " in the other";
    return {};
}

void checkShardSet(const std::vector<Atlas>& shards)
{
    const int count = shards.front().info().shardCount;
    std::vector<std::vector<std::string>> given(std::size_t(std::max(count, 1)));
    for (const Atlas& shard : shards) {
        const int index = shard.info().shardIndex;
        if (index < 0 || index >= count)
            throw Error(shard.path() + ": shard " + std::to_string(index) + " of " + std::to_string(count)
                        + " is out of range");
        given[std::size_t(index)].push_back(shard.path());
    }
    std::vector<int> missing;
    for (int i = 0; i < count; ++i) {
        if (given[std::size_t(i)].size() > 1)
            throw Error("shard " + std::to_string(i) + "/" + std::to_string(count)
                        + " is given twice: " + given[std::size_t(i)][0] + " and " + given[std::size_t(i)][1]);
        if (given[std::size_t(i)].empty())
            missing.push_back(i);
    }
    if (!missing.empty())
        throw Error("missing shard" + std::string(missing.size() > 1 ? "s " : " ") + join(missing) + " of "
                    + std::to_string(count) + " (give every --shard I/" + std::to_string(count) + " atlas)");
}

} // namespace

void mergeAtlases(const std::vector<std::string>& shardPaths, const std::string& outputPath)
{
    if (shardPaths.empty())
        throw Error("atlas-merge: give the shard atlases to merge");
    std::vector<Atlas> shards;
    for (const std::string& path : shardPaths)
        shards.push_back(Atlas::open(path));
    for (std::size_t i = 1; i < shards.size(); ++i) {
        const std::string difference = differenceOf(shards.front(), shards[i]);
        if (!difference.empty())
            throw Error(shards[i].path() + " is not from the same job as " + shards.front().path() + ": " + difference);
    }
    checkShardSet(shards);
    std::sort(shards.begin(), shards.end(),
              [](const Atlas& a, const Atlas& b) { return a.info().shardIndex < b.info().shardIndex; });

    const std::string target = detail::withoutTrailingSlashes(outputPath);
    detail::checkAtlasTarget(target);
    detail::StagingFolder staging(target);

    // Every image once, in data-set order.
    struct Image {
        std::int64_t row;
        std::size_t shard, index;
    };
    std::vector<Image> images;
    for (std::size_t s = 0; s < shards.size(); ++s)
        for (std::size_t i = 0; i < shards[s].rows().size(); ++i)
            images.push_back({shards[s].rows()[i], s, i});
    std::sort(images.begin(), images.end(), [](const Image& a, const Image& b) { return a.row < b.row; });
    for (std::size_t i = 1; i < images.size(); ++i)
        if (images[i].row == images[i - 1].row)
            throw Error("row " + std::to_string(images[i].row) + " is in both " + shards[images[i - 1].shard].path()
                        + " and " + shards[images[i].shard].path());

    std::vector<std::int64_t> rows, classes;
    std::vector<float> scores;
    std::string imageList;
    for (const Image& image : images) {
        const Atlas& shard = shards[image.shard];
        rows.push_back(image.row);
        classes.push_back(shard.predictedClass()[image.index]);
        scores.push_back(shard.predictedScore()[image.index]);
        imageList += detail::imageLine(shard.files()[image.index]);
    }
    writeNpy(staging.path() + "/rows.npy", vectorTensor(rows));
    writeNpy(staging.path() + "/predicted_class.npy", vectorTensor(classes));
    writeNpy(staging.path() + "/predicted_score.npy", vectorTensor(scores));
    {
        detail::AtomicFile list(staging.path() + "/" + detail::kAtlasImages);
        list.write(imageList.data(), imageList.size());
        list.commit();
    }

    AtlasInfo info = shards.front().info();
    info.shardIndex = 0, info.shardCount = 1;
    info.skipped.clear();
    for (const Atlas& shard : shards)
        info.skipped.insert(info.skipped.end(), shard.info().skipped.begin(), shard.info().skipped.end());

    std::vector<AtlasLayer> layers;
    for (std::size_t l = 0; l < shards.front().layers().size(); ++l) {
        AtlasLayer merged = shards.front().layers()[l];
        const auto channels = std::size_t(merged.channels());
        merged.statistics.assign(channels, ChannelStatistics());
        merged.top.assign(channels, {});
        merged.bottom.assign(channels, {});
        for (std::size_t c = 0; c < channels; ++c) {
            detail::BoundedRanking top(info.topK, true), bottom(info.topK, false);
            for (const Atlas& shard : shards) {
                const AtlasLayer& part = shard.layers()[l];
                merged.statistics[c].merge(part.statistics[c]);
                for (const AtlasEntry& entry : part.top[c])
                    top.offer(entry);
                for (const AtlasEntry& entry : part.bottom[c])
                    bottom.offer(entry);
            }
            merged.top[c] = top.sorted();
            merged.bottom[c] = bottom.sorted();
        }
        const std::string folder = staging.path() + "/" + detail::layerFolderName(l);
        if (::mkdir(folder.c_str(), 0755) != 0)
            detail::throwWriteError(target, errno);
        detail::writeLayerArrays(folder, merged, info.topK);

        // The pooled vectors of one capture, all shards, rearranged in data-set order.
        std::vector<Tensor> parts;
        for (const Atlas& shard : shards)
            parts.push_back(shard.pooled(merged.capture));
        Tensor pooled = Tensor::zeros({std::int64_t(images.size()), merged.channels()}, DType::Float32);
        const std::size_t rowBytes = channels * sizeof(float);
        for (std::size_t i = 0; i < images.size(); ++i)
            std::memcpy(static_cast<char*>(pooled.mutableData()) + i * rowBytes,
                        parts[images[i].shard].values<char>() + images[i].index * rowBytes, rowBytes);
        writeNpy(folder + "/pooled.npy", pooled);
        layers.push_back(std::move(merged));
    }
    const std::string json = detail::atlasJson(info, layers);
    detail::AtomicFile description(staging.path() + "/" + detail::kAtlasJson);
    description.write(json.data(), json.size());
    description.commit();
    detail::publishAtlas(staging, target);
}

} // namespace layerscope
