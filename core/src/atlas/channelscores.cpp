#include "atlas/channelscores_p.h"

#include "layerscope/error.h"

#include <algorithm>
#include <cmath>

namespace layerscope::detail {

ChannelLayout channelLayoutOf(const std::string& capture, const std::vector<std::int64_t>& shape)
{
    ChannelLayout layout;
    if (shape.size() == 4) {
        layout.kind = AtlasCaptureKind::Map;
        layout.batch = shape[0], layout.channels = shape[1], layout.positions = shape[2] * shape[3];
        layout.width = shape[3];
        layout.channelStride = layout.positions, layout.positionStride = 1;
    } else if (shape.size() == 2) {
        layout.kind = AtlasCaptureKind::Vector;
        layout.batch = shape[0], layout.channels = shape[1], layout.positions = 1;
        layout.channelStride = 1, layout.positionStride = 1;
    } else if (shape.size() == 3) {
        layout.kind = AtlasCaptureKind::Tokens;
        layout.batch = shape[0], layout.channels = shape[2], layout.positions = shape[1];
        layout.channelStride = 1, layout.positionStride = shape[2];
    } else {
        throw Error("capture '" + capture + "' has shape " + shapeToString(shape)
                    + "; an atlas scores [N, C, H, W] maps, [N, C] vectors and [N, T, D] tokens");
    }
    if (layout.channels <= 0 || layout.positions <= 0)
        throw Error("capture '" + capture + "' has shape " + shapeToString(shape) + ": nothing to score");
    layout.imageStride = layout.channels * layout.positions;
    return layout;
}

namespace {

// What one pass over a channel of one image finds.
struct ChannelPass {
    double sum = 0;       // of every value, NaN and Inf included (numpy's mean)
    double finiteSum = 0; // of finite values, for the statistics
    std::int64_t finite = 0, nan = 0, inf = 0;
    float max = 0;
    std::int32_t argmax = -1;
    double min = std::numeric_limits<double>::infinity(), finiteMax = -std::numeric_limits<double>::infinity();
};

ChannelPass passOver(const float* first, std::int64_t positions, std::int64_t stride)
{
    ChannelPass pass;
    for (std::int64_t p = 0; p < positions; ++p) {
        const float v = first[p * stride];
        pass.sum += v;
        if (std::isnan(v)) {
            ++pass.nan;
            continue;
        }
        if (pass.argmax < 0 || v > pass.max)
            pass.max = v, pass.argmax = std::int32_t(p);
        if (std::isinf(v)) {
            ++pass.inf;
            continue;
        }
        ++pass.finite;
        pass.finiteSum += v;
        pass.min = std::min(pass.min, double(v));
        pass.finiteMax = std::max(pass.finiteMax, double(v));
    }
    return pass;
}

double squaredDeviations(const float* first, std::int64_t positions, std::int64_t stride, double mean)
{
    double m2 = 0;
    for (std::int64_t p = 0; p < positions; ++p) {
        const float v = first[p * stride];
        if (std::isfinite(v))
            m2 += (v - mean) * (v - mean);
    }
    return m2;
}

} // namespace

BatchScores scoreBatch(const float* values, const ChannelLayout& layout, AtlasScore score,
                       std::vector<ChannelStatistics>& statistics)
{
    const std::int64_t b = layout.batch, c = layout.channels, p = layout.positions;
    BatchScores out;
    out.score.resize(std::size_t(b * c));
    out.argmax.resize(std::size_t(b * c));
    out.pooled.resize(std::size_t(b * c));
    statistics.resize(std::size_t(c));
    for (std::int64_t channel = 0; channel < c; ++channel) {
        ChannelStatistics block;
        double finiteSum = 0;
        for (std::int64_t image = 0; image < b; ++image) {
            const float* first = values + image * layout.imageStride + channel * layout.channelStride;
            const ChannelPass pass = passOver(first, p, layout.positionStride);
            const std::size_t at = std::size_t(image * c + channel);
            const float mean = float(pass.sum / double(p));
            out.pooled[at] = mean;
            out.argmax[at] = pass.argmax;
            out.score[at] = score == AtlasScore::Mean ? mean : pass.argmax < 0 ? std::nanf("") : pass.max;
            block.values += pass.finite, block.nan += pass.nan, block.inf += pass.inf;
            block.min = std::min(block.min, pass.min), block.max = std::max(block.max, pass.finiteMax);
            finiteSum += pass.finiteSum;
            ++block.images;
            block.active += out.score[at] > 0 ? 1 : 0;
        }
        // Two passes over the block (it is in cache) keep the variance exact where sum-of-squares
        // would cancel; blocks then merge.
        if (block.values > 0) {
            block.mean = finiteSum / double(block.values);
            for (std::int64_t image = 0; image < b; ++image)
                block.m2 += squaredDeviations(values + image * layout.imageStride + channel * layout.channelStride, p,
                                              layout.positionStride, block.mean);
        }
        statistics[std::size_t(channel)].merge(block);
    }
    return out;
}

bool BoundedRanking::better(const AtlasEntry& a, const AtlasEntry& b) const
{
    if (a.score != b.score)
        return highestFirst_ ? a.score > b.score : a.score < b.score;
    return a.row < b.row;
}

void BoundedRanking::offer(const AtlasEntry& entry)
{
    if (std::isnan(entry.score) || k_ <= 0)
        return;
    const auto worstOnTop = [this](const AtlasEntry& a, const AtlasEntry& b) { return better(a, b); };
    if (int(heap_.size()) < k_) {
        heap_.push_back(entry);
        std::push_heap(heap_.begin(), heap_.end(), worstOnTop);
    } else if (better(entry, heap_.front())) {
        std::pop_heap(heap_.begin(), heap_.end(), worstOnTop);
        heap_.back() = entry;
        std::push_heap(heap_.begin(), heap_.end(), worstOnTop);
    }
}

std::vector<AtlasEntry> BoundedRanking::sorted() const
{
    std::vector<AtlasEntry> entries = heap_;
    std::sort(entries.begin(), entries.end(),
              [this](const AtlasEntry& a, const AtlasEntry& b) { return better(a, b); });
    return entries;
}

} // namespace layerscope::detail

namespace layerscope {

std::string atlasScoreName(AtlasScore score) { return score == AtlasScore::Mean ? "mean" : "max"; }

double ChannelStatistics::std() const { return values > 0 ? std::sqrt(m2 / double(values)) : std::nan(""); }

double ChannelStatistics::activeFraction() const { return images > 0 ? double(active) / double(images) : 0.0; }

void ChannelStatistics::merge(const ChannelStatistics& other)
{
    if (other.values > 0) {
        const std::int64_t n = values + other.values;
        const double delta = other.mean - mean;
        mean += delta * double(other.values) / double(n);
        m2 += other.m2 + delta * delta * double(values) * double(other.values) / double(n);
        values = n;
    }
    min = std::min(min, other.min), max = std::max(max, other.max);
    images += other.images, active += other.active, nan += other.nan, inf += other.inf;
}

} // namespace layerscope
