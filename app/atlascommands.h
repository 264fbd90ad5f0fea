#pragma once
// layerscope-cli's atlas commands: build an atlas over a folder, print one, merge shards.

#include "cliarguments.h"

namespace layerscope::cli {

int showAtlas(const AtlasShowOptions& options);
int mergeAtlasShards(const AtlasMergeOptions& options);

} // namespace layerscope::cli
