#pragma once
// --pool and --dtype: each batch's captures made smaller before they are written.

#include "layerscope/extraction.h"

namespace layerscope::detail {

// Throws layerscope::Error, before anything runs, for a reduction the output format cannot hold.
void checkReduction(const FeatureReduction& reduce, ExportFormat format, const std::string& outputPath);

RunResult reduced(const RunResult& run, const FeatureReduction& reduce);

// The manifest's "reduce" entry: {"maps": "avg", "tokens": "cls", "dtype": "float16"}.
std::string reductionJson(const FeatureReduction& reduce);

} // namespace layerscope::detail
