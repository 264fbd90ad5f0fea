#pragma once
// layerscope-cli cam: class activation maps (or input gradients) for images, folders or .npy inputs,
// through the extraction pipeline (batches, skipped files, progress, Ctrl-C, manifest).

#include "cliarguments.h"

namespace layerscope::cli {

// Exit codes as extract: 0 done, 130 interrupted (the complete batches are written), errors thrown.
int camCommand(CamOptions& options);

} // namespace layerscope::cli
