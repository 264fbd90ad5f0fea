#pragma once
// The atlas folder's files (see layerscope/atlas.h), shared by the builder, the reader and merge.

#include "formats/staging_p.h"
#include "layerscope/atlas.h"

#include <string>
#include <vector>

namespace layerscope::detail {

extern const char* const kAtlasJson;   // "atlas.json"
extern const char* const kAtlasImages; // "images.jsonl"

std::string layerFolderName(std::size_t index); // "capture_0"

// atlas.json: the info and each layer's capture key, per-image shape and kind.
std::string atlasJson(const AtlasInfo& info, const std::vector<AtlasLayer>& layers);

// A layer's ranking and statistics arrays into `folder` (which exists).
void writeLayerArrays(const std::string& folder, const AtlasLayer& layer, int topK);

// One line of images.jsonl: the file as a JSON string.
std::string imageLine(const std::string& file);

// Before any work: `target` must be writable and either absent or an atlas (which is replaced).
void checkAtlasTarget(const std::string& target);

// Moves a finished staging folder to `target`, replacing an atlas already there only once the new
// one is in place. Throws layerscope::Error.
void publishAtlas(StagingFolder& staging, const std::string& target);

} // namespace layerscope::detail
