#pragma once
// Images in: decoding with OpenCV and one described, serialisable preprocessing pipeline.

#include "layerscope/tensor.h"

#include <string>
#include <vector>

namespace layerscope {

enum class ResizeMode { None, Exact, ShorterSide };
enum class ColorMode { Gray, RGB, BGR };
enum class Interpolation { Linear, Area, Cubic, Nearest };

// The steps, in the order they run: decode (JPEG turned upright as the camera meant), colour mode,
// resize, center crop (these three on the decoded 8- or 16-bit pixels, as PIL does), convert to
// float32 (divided by 255 or 65535 when scaleTo01), per-channel (x - mean) / std, HWC to CHW.
struct Preprocessing {
    ResizeMode resize = ResizeMode::None;
    int resizeWidth = 0;  // Exact: the size; ShorterSide: the shorter side's new length
    int resizeHeight = 0; // Exact only
    int cropWidth = 0;    // 0: no crop
    int cropHeight = 0;
    ColorMode color = ColorMode::RGB;
    bool scaleTo01 = true;
    std::vector<float> mean; // one per channel, or empty
    std::vector<float> std;
    Interpolation interpolation = Interpolation::Linear;

    // Shorter side 256, center crop 224, RGB, [0,1], ImageNet mean and std.
    static Preprocessing imagenet();
    // Grayscale, [0,1], resized to width x height (0: kept as it is).
    static Preprocessing gray(int width = 0, int height = 0);

    int channels() const { return color == ColorMode::Gray ? 1 : 3; }
    std::string toJson() const;
    static Preprocessing fromJson(const std::string& json); // throws layerscope::Error
    std::string describe() const; // one line for people: "shorter side 256, crop 224x224, RGB, ..."
};

bool isImageFile(const std::string& path); // by extension: png jpg jpeg bmp tif tiff webp

// Decodes and preprocesses one image into a [C, H, W] float32 tensor. Throws layerscope::Error
// naming the file and the cause (missing, not an image, unsupported, corrupt).
Tensor loadImage(const std::string& path, const Preprocessing& preprocessing);

// The images of a folder (recursively on request), sorted by path so that row order is stable.
std::vector<std::string> listImages(const std::string& folder, bool recursive);

} // namespace layerscope
