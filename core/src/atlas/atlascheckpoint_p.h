#pragma once
// atlas --resume: what a builder holds in memory (each capture's rankings and statistics) as JSON for
// its checkpoint, and back. Floating values are kept as their bit patterns, so that a resumed atlas
// equals an uninterrupted one bit for bit (and NaN, infinities survive JSON).

#include "layerscope/atlas.h"

#include <nlohmann/json.hpp>

namespace layerscope::detail {

// layer.kind, sampleShape, top, bottom (best first) and statistics.
nlohmann::json layerCheckpoint(const AtlasLayer& layer);
// Throws nlohmann::json::exception or std::invalid_argument for a damaged checkpoint.
AtlasLayer layerFromCheckpoint(const nlohmann::json& saved);

} // namespace layerscope::detail
