// libFuzzer target: layerscope-cli's option parsing and checking (app/cliarguments.cpp).
// The input is a command line, one argument per line. Anything but CLI11's own parse errors and
// layerscope::Error (one line naming the option) is a finding.

#include "cliarguments.h"
#include "layerscope/error.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    std::vector<std::string> arguments;
    std::string current;
    for (std::size_t i = 0; i < size; ++i) {
        if (data[i] == '\n') {
            arguments.push_back(current);
            current.clear();
        } else {
            current += char(data[i]);
        }
    }
    if (!current.empty())
        arguments.push_back(current);
    if (arguments.size() > 64)
        return 0;
    CLI::App app {"fuzz"};
    layerscope::cli::CommandLine line;
    layerscope::cli::declareCommandLine(app, line);
    try {
        layerscope::cli::parseArguments(app, arguments);
        layerscope::cli::checkCommandLine(line);
    } catch (const CLI::Error&) {
    } catch (const layerscope::Error&) {
    }
    return 0;
}
