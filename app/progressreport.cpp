#include "progressreport.h"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <unistd.h>
#include <utility>

namespace layerscope::cli {

namespace {

std::atomic<bool> interrupted {false};

extern "C" void onInterrupt(int)
{
    interrupted = true;
    std::signal(SIGINT, SIG_DFL); // a second Ctrl-C ends the program at once
}

void drawBar(const ExtractionProgress& p, const std::string& unit)
{
    const double rate = p.seconds > 0 ? p.done / p.seconds : 0;
    const int width = 30, filled = p.total ? int(width * p.done / p.total) : width;
    std::fprintf(stderr, "\r[%s%s] %lld/%lld %s, %.1f %s/s, ETA %s%s", std::string(filled, '#').c_str(),
                 std::string(width - filled, '.').c_str(), static_cast<long long>(p.done),
                 static_cast<long long>(p.total), unit.c_str(), rate, unit.c_str(),
                 rate > 0 ? formatSeconds((p.total - p.done) / rate).c_str() : "?",
                 p.skipped ? (", " + std::to_string(p.skipped) + " skipped").c_str() : "");
    std::fflush(stderr);
}

} // namespace

std::string formatSeconds(double seconds)
{
    char text[32];
    const int s = int(seconds + 0.5);
    std::snprintf(text, sizeof text, "%d:%02d", s / 60, s % 60);
    return text;
}

ProgressReport::ProgressReport(bool quiet, std::string unit)
    : drawBar_(!quiet && ::isatty(STDERR_FILENO))
    , printLines_(!quiet && !drawBar_)
    , unit_(std::move(unit))
{
    std::signal(SIGINT, onInterrupt);
}

bool ProgressReport::operator()(const ExtractionProgress& p)
{
    if (drawBar_ && p.total > 1)
        drawBar(p, unit_);
    const std::int64_t percent = p.total ? 100 * p.done / p.total : 100;
    if (printLines_ && p.total > 1 && percent != lastPercent_) {
        std::fprintf(stderr, "progress: %lld/%lld %s\n", static_cast<long long>(p.done),
                     static_cast<long long>(p.total), unit_.c_str());
        lastPercent_ = percent;
    }
    return !interrupted.load();
}

void ProgressReport::finish()
{
    if (drawBar_)
        std::fprintf(stderr, "\n");
}

} // namespace layerscope::cli
