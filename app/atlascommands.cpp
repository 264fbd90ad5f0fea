#include "atlascommands.h"

#include "progressreport.h"

#include "layerscope/atlas.h"
#include "layerscope/error.h"
#include "layerscope/exporters.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

namespace layerscope::cli {

namespace {

// The shortest text that reads back as the same value (numpy parses it exactly).
template <typename T> std::string number(T value)
{
    if (std::isnan(value))
        return "nan";
    if (std::isinf(value))
        return value > 0 ? "inf" : "-inf";
    char text[64];
    const auto end = std::to_chars(text, text + sizeof text, value).ptr;
    return std::string(text, end);
}

std::string position(std::int32_t value) { return value < 0 ? std::string() : std::to_string(value); }

} // namespace

int buildAtlasCommand(AtlasOptions& options)
{
    AtlasJob job;
    job.run = options.run.job;
    job.captures = options.run.layers;
    job.score = options.score == "mean" ? AtlasScore::Mean : AtlasScore::Max;
    job.topK = options.top;
    const std::string state = resumeStatePathFor(job.run.outputPath);
    if (!job.run.resume && std::filesystem::is_directory(state))
        std::cerr << "note: " << state
                  << " holds a killed run of this atlas: add --resume to continue it; this run starts over\n";
    ProgressReport report(options.run.quiet);
    const AtlasResult result
        = buildAtlas(options.run.model, job, [&](const ExtractionProgress& p) { return report(p); });
    report.finish();
    for (const auto& skipped : result.skippedInputs)
        std::cerr << "skipped: " << skipped.reason << "\n";
    for (const auto& note : result.notes)
        std::cerr << "note: " << note << "\n";
    if (result.cancelled) {
        std::cerr << "interrupted after " << result.images << " images: no atlas written"
                  << (job.run.resume && result.images > 0
                          ? "; the same command continues from its last checkpoint (in " + state + ")"
                          : "")
                  << "\n";
        return 130;
    }
    std::cerr << "atlas of " << result.images << (result.images == 1 ? " image, " : " images, ") << job.captures.size()
              << (job.captures.size() == 1 ? " capture" : " captures") << " written to " << result.path << " in "
              << formatSeconds(result.seconds) << "\n";
    return 0;
}

int showAtlas(const AtlasShowOptions& options)
{
    const Atlas atlas = Atlas::open(options.atlas);
    const AtlasLayer& layer = atlas.layer(options.layer);
    if (options.stats) {
        for (std::int64_t c = 0; c < layer.channels(); ++c) {
            const ChannelStatistics& s = layer.statistics[std::size_t(c)];
            const bool any = s.values > 0;
            std::printf("%lld\t%s\t%s\t%s\t%s\t%s\t%lld\t%lld\n", static_cast<long long>(c),
                        number(any ? s.mean : NAN).c_str(), number(s.std()).c_str(), number(any ? s.min : NAN).c_str(),
                        number(any ? s.max : NAN).c_str(), number(s.activeFraction()).c_str(),
                        static_cast<long long>(s.nan), static_cast<long long>(s.inf));
        }
        return 0;
    }
    if (options.dead) {
        for (std::int64_t c = 0; c < layer.channels(); ++c)
            if (layer.statistics[std::size_t(c)].dead())
                std::printf("%lld\n", static_cast<long long>(c));
        return 0;
    }
    if (options.channel >= layer.channels())
        throw Error("--channel " + std::to_string(options.channel) + ": '" + layer.capture + "' has "
                    + std::to_string(layer.channels()) + " channels (0.." + std::to_string(layer.channels() - 1) + ")");
    const auto& ranking = (options.bottom ? layer.bottom : layer.top)[std::size_t(options.channel)];
    for (std::size_t rank = 0; rank < ranking.size(); ++rank) {
        const AtlasEntry& entry = ranking[rank];
        std::printf("%zu\t%s\t%s\t%s\t%s\n", rank + 1, atlas.fileOfRow(entry.row).c_str(), number(entry.score).c_str(),
                    position(entry.y).c_str(), position(entry.x).c_str());
    }
    return 0;
}

int mergeAtlasShards(const AtlasMergeOptions& options)
{
    mergeAtlases(options.shards, options.out);
    const Atlas merged = Atlas::open(options.out);
    std::cerr << "merged " << options.shards.size() << (options.shards.size() == 1 ? " shard" : " shards") << " ("
              << merged.images() << " images) into " << options.out << "\n";
    return 0;
}

} // namespace layerscope::cli
