#pragma once
// What layerscope-cli shows while it works through a data set: a bar redrawn in place on a terminal,
// or one "progress: D/T images" line per whole percent in a log; and Ctrl-C as a request to stop.
// merge counts rows instead of images.

#include "layerscope/extraction.h"

#include <cstdint>
#include <string>

namespace layerscope::cli {

class ProgressReport {
public:
    explicit ProgressReport(bool quiet, std::string unit = "images"); // installs the Ctrl-C handler
    // The run's progress callback: reports, and returns false once Ctrl-C was pressed.
    bool operator()(const ExtractionProgress& progress);
    void finish(); // ends the bar's line

private:
    bool drawBar_ = false, printLines_ = false;
    std::string unit_;
    std::int64_t lastPercent_ = -1;
};

std::string formatSeconds(double seconds); // "1:05"

} // namespace layerscope::cli
