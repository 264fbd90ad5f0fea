#pragma once
// Images in: decoding with OpenCV and one described, serialisable preprocessing pipeline.

#include "layerscope/tensor.h"

#include <cstdint>
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

// The most pixels (width x height, as the file's header declares them) an image may have before it is
// decoded: PIL's decompression-bomb error threshold (2 x Image.MAX_IMAGE_PIXELS). A 300-byte JPEG can
// declare a gigapixel image; decoding it would take gigabytes. Process-wide: the CLI (--max-pixels)
// and the GUI set it once; 0 or less lifts it (a side longer than 2^20 pixels is still refused).
constexpr std::int64_t kDefaultMaxImagePixels = 178956970;
void setMaxImagePixels(std::int64_t pixels);
std::int64_t maxImagePixels();

struct ImageFileInfo {
    std::string format;                 // by content: "PNG", "JPEG", "BMP", "TIFF", "WebP"
    std::int64_t width = 0, height = 0; // as stored, before any EXIF orientation
};

// What loadImage checks before any decoder sees a byte, without decoding: a regular file (no FIFO,
// device or folder), leading bytes of a supported format whatever the name says, a well-formed
// header, and a size within maxImagePixels(). For code that hands files to another decoder (Qt's
// QImageReader for thumbnails). Throws layerscope::Error naming the file and the cause.
ImageFileInfo checkImageFile(const std::string& path);

// Decodes and preprocesses one image into a [C, H, W] float32 tensor. The format is the one the
// content says (a PNG named .jpg is read as PNG). Throws layerscope::Error naming the file and the
// cause (missing, not an image, unsupported, corrupt, too many pixels: see checkImageFile).
Tensor loadImage(const std::string& path, const Preprocessing& preprocessing);

// The images of a folder (recursively on request), sorted by path so that row order is stable.
std::vector<std::string> listImages(const std::string& folder, bool recursive);

} // namespace layerscope
