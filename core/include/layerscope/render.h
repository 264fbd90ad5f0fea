#pragma once
// Activations to pixels: colormaps and the grid of channels of a 4-D capture. The GUI draws with
// the same code that the .png exporter writes with.

#include "layerscope/tensor.h"

#include <cstdint>
#include <string>
#include <vector>

namespace layerscope {

enum class Colormap { Viridis, Gray, Magma, Inferno, Plasma, Jet, Turbo, Diverging };
enum class Normalization { PerChannel, LayerWide };

std::vector<std::string> colormapNames(); // "viridis", "gray", ... in enum order
Colormap colormapFromName(const std::string& name); // throws layerscope::Error for unknown names
std::string colormapName(Colormap colormap);

struct RgbImage {
    int width = 0;
    int height = 0;
    std::vector<std::uint8_t> pixels; // RGB, row-major, 3 bytes a pixel
};

struct GridOptions {
    Colormap colormap = Colormap::Viridis;
    Normalization normalization = Normalization::PerChannel;
    int columns = 0; // 0: as square as possible
    int gap = 1;     // pixels between tiles
    int scale = 1;   // each value drawn as scale x scale pixels
};

// Sample `sample` of a [N, C, H, W] capture as C tiles. The Diverging map centres zero; the others
// stretch min..max (of each channel or of the whole layer) over the map. Throws layerscope::Error
// for other ranks.
RgbImage renderChannelGrid(const Tensor& capture, std::int64_t sample, const GridOptions& options = {});

// PNG bytes of an image (OpenCV's encoder).
std::vector<std::uint8_t> encodePng(const RgbImage& image);

} // namespace layerscope
