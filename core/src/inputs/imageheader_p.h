#pragma once

#include "paths_p.h" // lowerExtension
// The first look at an image file, before any decoder sees it: which supported format its leading
// bytes are (by content, not by name) and the width and height its header declares, read by small
// bounds-checked readers. OpenCV picks a decoder by signature among many more formats (DICOM, EXR,
// JPEG 2000, GDAL ...) whose decoders LayerScope never wants a crafted file to reach, and decodes a
// 300-byte header declaring a gigapixel image without asking. No OpenCV, LibTorch or Qt here: the
// fuzz build (tests/fuzz/fuzz_image.cpp) compiles this file on its own.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace layerscope::detail {

enum class ImageFormat { Png, Jpeg, Bmp, Tiff, WebP };

struct ImageHeader {
    ImageFormat format = ImageFormat::Png;
    std::int64_t width = 0; // as stored: before any EXIF orientation
    std::int64_t height = 0;
    // TIFF tiles: OpenCV allocates a whole tile's buffer whatever the image's size, so a 16x16 image in
    // one 16777200x16 tile takes a gigabyte. 0 when untiled.
    std::int64_t tileWidth = 0;
    std::int64_t tileHeight = 0;
};

const char* imageFormatName(ImageFormat format); // "PNG", "JPEG", "BMP", "TIFF", "WebP"

// The longest side any header may declare: OpenCV refuses longer ones (OPENCV_IO_MAX_IMAGE_WIDTH).
constexpr std::int64_t kMaxImageSide = std::int64_t(1) << 20;

// Throws layerscope::Error naming `path` and the cause: leading bytes that match no supported format,
// a truncated or malformed header, a zero or absurd dimension, or a second signature at an offset that
// OpenCV's DICOM or GDAL decoder would claim ("DICM" at byte 128, "DTED" at byte 140).
ImageHeader readImageHeader(const unsigned char* bytes, std::size_t size, const std::string& path);

// Throws layerscope::Error when width x height, or a TIFF tile's width x height, exceeds `limit` pixels;
// a limit of 0 or less is no limit.
void checkPixelLimit(const ImageHeader& header, std::int64_t limit, const std::string& path);

// At most `maxBytes` of a regular file, the size taken from the open file itself: a FIFO, a device, a
// socket or a folder is refused before a byte is read (a FIFO never blocks the open). Throws layerscope::Error.
std::vector<unsigned char> readImageFile(const std::string& path, std::size_t maxBytes = SIZE_MAX);

} // namespace layerscope::detail
