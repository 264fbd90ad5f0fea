#pragma once
// The manifest an extraction writes beside its output (without "rows", which the writer streams).

#include "layerscope/exporters.h"
#include "layerscope/extraction.h"
#include "layerscope/inputs.h"

#include <string>

namespace layerscope::detail {

struct ManifestFacts {
    const ExtractionJob& job;
    const Model& model;
    std::string modelSha256;
    const InputSet& inputs;
    const ExtractionResult& result;
    std::string outputPath;
    ExportFormat format;
    int decodeThreads;
};

std::string extractionManifest(const ManifestFacts& facts);

} // namespace layerscope::detail
