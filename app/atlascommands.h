#pragma once
// layerscope-cli's atlas commands: build an atlas over a folder, print one, merge shards.

#include "cliarguments.h"

namespace layerscope::cli {

// Exit codes as extract: 0 done, 130 interrupted (nothing written), errors thrown.
int buildAtlasCommand(AtlasOptions& options);
int showAtlas(const AtlasShowOptions& options);
int mergeAtlasShards(const AtlasMergeOptions& options);

} // namespace layerscope::cli
