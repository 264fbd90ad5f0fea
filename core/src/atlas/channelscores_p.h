#pragma once
// The arithmetic of the atlas, kept apart from its files: scoring one batch of a capture per image
// and channel, and the bounded top/bottom lists.

#include "layerscope/atlas.h"

#include <cstdint>
#include <string>
#include <vector>

namespace layerscope::detail {

// A capture batch seen as [B, C, P]: B images, C channels, P positions of each channel, with the
// strides of its layout ([B,C,H,W]: positions contiguous; [B,T,D]: channels contiguous).
struct ChannelLayout {
    AtlasCaptureKind kind = AtlasCaptureKind::Map;
    std::int64_t batch = 0, channels = 0, positions = 1;
    std::int64_t width = 1; // to turn a position into (y, x) for maps
    std::int64_t channelStride = 0, positionStride = 0, imageStride = 0;
};

// Throws layerscope::Error naming `capture` for shapes an atlas cannot score (rank 1, 5, ...).
ChannelLayout channelLayoutOf(const std::string& capture, const std::vector<std::int64_t>& shape);

// One batch scored: [B * C] each, image-major.
struct BatchScores {
    std::vector<float> score;         // NaN when every position is NaN (max) or any is (mean)
    std::vector<std::int32_t> argmax; // position of the maximum, -1 when every position is NaN
    std::vector<float> pooled;        // mean over positions
};

// `values` holds the batch as float32 in the layout's order. Updates `statistics` (one per channel).
BatchScores scoreBatch(const float* values, const ChannelLayout& layout, AtlasScore score,
                       std::vector<ChannelStatistics>& statistics);

// The K best entries seen, in a heap whose front is the worst kept; ties go to the lower row, so
// the result does not depend on the order entries arrive in (shards merge to one run's lists).
class BoundedRanking {
public:
    BoundedRanking(int k, bool highestFirst)
        : k_(k)
        , highestFirst_(highestFirst)
    {
    }
    void offer(const AtlasEntry& entry);    // NaN scores are never ranked
    std::vector<AtlasEntry> sorted() const; // best first

private:
    bool better(const AtlasEntry& a, const AtlasEntry& b) const;
    int k_;
    bool highestFirst_;
    std::vector<AtlasEntry> heap_;
};

} // namespace layerscope::detail
