#pragma once
// Activations to pixels: colormaps and the grid of channels of a 4-D capture. The GUI draws with
// the same code that the .png exporter writes with.

#include "layerscope/tensor.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace layerscope {

enum class Colormap { Viridis, Gray, Magma, Inferno, Plasma, Jet, Turbo, Diverging };
enum class Normalization { PerChannel, LayerWide };

std::vector<std::string> colormapNames();           // "viridis", "gray", ... in enum order
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
    int columns = 0;                                      // 0: as square as possible
    int gap = 1;                                          // pixels between tiles
    std::array<std::uint8_t, 3> gapColor {255, 255, 255}; // RGB of the gaps (the GUI uses its palette)
    int scale = 1;                                        // each value drawn as scale x scale pixels
    std::vector<int> channelOrder;                        // tile i shows channel channelOrder[i]; empty: 0, 1, 2 ...
};

// Where tile `tile` of a grid of `channels` tiles of width x height sits (for hit tests).
struct GridLayout {
    int columns = 1, rows = 1, tileWidth = 0, tileHeight = 0, gap = 0;
    int tileAt(int x, int y) const; // -1 in a gap or outside
};
GridLayout gridLayout(std::int64_t channels, int width, int height, const GridOptions& options);

// The colour of t in [0, 1] on a colormap (t = 0.5 is zero on the diverging map). RGB.
std::array<std::uint8_t, 3> colormapColor(Colormap colormap, double t);

enum class ChannelOrder { Index, Mean, Max, Std, ZeroFraction };
// Channels of one sample sorted by a statistic, largest first (Index: 0, 1, 2 ...).
std::vector<int> sortChannels(const Tensor& capture, std::int64_t sample, ChannelOrder order);

// Sample `sample` of a [N, C, H, W] capture as C tiles. The Diverging map centres zero; the others
// stretch min..max (of each channel or of the whole layer) over the map. Throws layerscope::Error
// for other ranks.
RgbImage renderChannelGrid(const Tensor& capture, std::int64_t sample, const GridOptions& options = {});

// An input tensor as the model sees it ([C, H, W] or [1, C, H, W], C = 1 or 3), its range stretched
// to 0..255 over all channels. Throws layerscope::Error for other shapes.
RgbImage renderInputImage(const Tensor& image);

// An attribution map [h, w] (or [1, h, w]) upsampled bilinearly (half-pixel centres, as PyTorch's
// align_corners=False) to height x width and normalised to [0, 1] by its own min..max (all zeros
// when flat): [height, width] float32.
Tensor upsampledMap(const Tensor& map, int height, int width);

// `map` upsampled to the image's size, normalised, coloured and blended over renderInputImage:
// each pixel (1 - opacity) x image + opacity x colour. A signed map (integrated gradients) is drawn by
// its magnitude.
RgbImage renderOverlay(const Tensor& image, const Tensor& map, Colormap colormap = Colormap::Jet, double opacity = 0.5);

// PNG bytes of an image (OpenCV's encoder).
std::vector<std::uint8_t> encodePng(const RgbImage& image);

// Writes encodePng(image) to `path` atomically (never a half-written file). Throws layerscope::Error.
void writePng(const RgbImage& image, const std::string& path);

} // namespace layerscope
