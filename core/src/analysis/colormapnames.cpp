// The colormaps by their command-line names (--colormap): no dependencies, so the CLI's option
// checks (and fuzz_cli) link it alone. The order is the Colormap enum's.

#include "layerscope/error.h"
#include "layerscope/render.h"

#include <iterator>

namespace layerscope {

namespace {

const char* const kNames[] = {"viridis", "gray", "magma", "inferno", "plasma", "jet", "turbo", "diverging"};

} // namespace

std::vector<std::string> colormapNames() { return {std::begin(kNames), std::end(kNames)}; }

std::string colormapName(Colormap colormap) { return kNames[static_cast<int>(colormap)]; }

Colormap colormapFromName(const std::string& name)
{
    for (int i = 0; i < int(std::size(kNames)); ++i) {
        if (name == kNames[i])
            return static_cast<Colormap>(i);
    }
    std::string known;
    for (const char* n : kNames)
        known += std::string(known.empty() ? "" : ", ") + n;
    throw Error("unknown colormap '" + name + "' (known: " + known + ")");
}

} // namespace layerscope
