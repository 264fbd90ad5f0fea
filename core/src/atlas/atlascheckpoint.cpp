#include "atlas/atlascheckpoint_p.h"

#include <cstring>
#include <stdexcept>

namespace layerscope::detail {

namespace {

using Json = nlohmann::json;

template <typename Bits, typename Value> Bits bitsOf(Value value)
{
    static_assert(sizeof(Bits) == sizeof(Value));
    Bits bits;
    std::memcpy(&bits, &value, sizeof bits);
    return bits;
}

template <typename Value, typename Bits> Value valueOf(Bits bits)
{
    Value value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
}

Json rankingJson(const std::vector<std::vector<AtlasEntry>>& channels)
{
    Json list = Json::array();
    for (const auto& entries : channels) {
        Json channel = Json::array();
        for (const AtlasEntry& e : entries)
            channel.push_back({e.row, bitsOf<std::uint32_t>(e.score), e.y, e.x});
        list.push_back(std::move(channel));
    }
    return list;
}

std::vector<std::vector<AtlasEntry>> rankingFrom(const Json& list, std::size_t channels)
{
    if (list.size() != channels)
        throw std::invalid_argument("rankings of " + std::to_string(list.size()) + " channels, not "
                                    + std::to_string(channels));
    std::vector<std::vector<AtlasEntry>> ranking;
    for (const Json& channel : list) {
        std::vector<AtlasEntry>& entries = ranking.emplace_back();
        for (const Json& e : channel)
            entries.push_back({e.at(0).get<std::int64_t>(), valueOf<float>(e.at(1).get<std::uint32_t>()),
                               e.at(2).get<std::int32_t>(), e.at(3).get<std::int32_t>()});
    }
    return ranking;
}

} // namespace

Json layerCheckpoint(const AtlasLayer& layer)
{
    Json statistics = Json::array();
    for (const ChannelStatistics& s : layer.statistics)
        statistics.push_back({s.values, bitsOf<std::uint64_t>(s.mean), bitsOf<std::uint64_t>(s.m2),
                              bitsOf<std::uint64_t>(s.min), bitsOf<std::uint64_t>(s.max), s.images, s.active, s.nan,
                              s.inf});
    return {{"capture", layer.capture}, {"kind", int(layer.kind)},       {"sample_shape", layer.sampleShape},
            {"statistics", statistics}, {"top", rankingJson(layer.top)}, {"bottom", rankingJson(layer.bottom)}};
}

AtlasLayer layerFromCheckpoint(const Json& saved)
{
    AtlasLayer layer;
    layer.capture = saved.at("capture").get<std::string>();
    const int kind = saved.at("kind").get<int>();
    if (kind < int(AtlasCaptureKind::Map) || kind > int(AtlasCaptureKind::Tokens))
        throw std::invalid_argument("capture kind " + std::to_string(kind));
    layer.kind = AtlasCaptureKind(kind);
    layer.sampleShape = saved.at("sample_shape").get<std::vector<std::int64_t>>();
    for (const Json& s : saved.at("statistics")) {
        ChannelStatistics& c = layer.statistics.emplace_back();
        c.values = s.at(0).get<std::int64_t>();
        c.mean = valueOf<double>(s.at(1).get<std::uint64_t>());
        c.m2 = valueOf<double>(s.at(2).get<std::uint64_t>());
        c.min = valueOf<double>(s.at(3).get<std::uint64_t>());
        c.max = valueOf<double>(s.at(4).get<std::uint64_t>());
        c.images = s.at(5).get<std::int64_t>();
        c.active = s.at(6).get<std::int64_t>();
        c.nan = s.at(7).get<std::int64_t>();
        c.inf = s.at(8).get<std::int64_t>();
    }
    layer.top = rankingFrom(saved.at("top"), layer.statistics.size());
    layer.bottom = rankingFrom(saved.at("bottom"), layer.statistics.size());
    return layer;
}

} // namespace layerscope::detail
