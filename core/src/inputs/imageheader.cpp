#include "inputs/imageheader_p.h"

#include "layerscope/error.h"
#include "layerscope/preprocessing.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace layerscope {

namespace detail {

namespace {

// Little- and big-endian reads; callers check has(offset, N) first.
std::uint32_t u16(const unsigned char* p, bool little)
{
    return little ? std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 : std::uint32_t(p[0]) << 8 | std::uint32_t(p[1]);
}

std::uint32_t u32(const unsigned char* p, bool little)
{
    return little ? u16(p, true) | u16(p + 2, true) << 16 : u16(p, false) << 16 | u16(p + 2, false);
}

bool startsWith(const unsigned char* bytes, std::size_t size, std::size_t offset, const char* text)
{
    const std::size_t n = std::strlen(text);
    return offset <= size && n <= size - offset && std::memcmp(bytes + offset, text, n) == 0;
}

// What the file's name promises, for the message when its bytes are no image at all.
const char* formatOfExtension(const std::string& path)
{
    const std::string e = lowerExtension(path);
    if (e == ".png")
        return "PNG";
    if (e == ".jpg" || e == ".jpeg")
        return "JPEG";
    if (e == ".bmp")
        return "BMP";
    if (e == ".tif" || e == ".tiff")
        return "TIFF";
    if (e == ".webp")
        return "WebP";
    return nullptr;
}

// Four bytes of a chunk or signature for a message, unprintable ones as '?'.
std::string printable(const unsigned char* p, std::size_t n)
{
    std::string text;
    for (std::size_t i = 0; i < n; ++i)
        text += (p[i] >= 0x20 && p[i] < 0x7F) ? char(p[i]) : '?';
    return text;
}

class HeaderReader {
public:
    HeaderReader(const unsigned char* bytes, std::size_t size, const std::string& path, ImageFormat format)
        : bytes_(bytes)
        , size_(size)
        , path_(path)
        , format_(format)
    {
    }

    [[noreturn]] void truncated(const char* where) const
    {
        throw Error(path_ + ": truncated " + imageFormatName(format_) + " (the file ends " + where + ")");
    }

    [[noreturn]] void corrupt(const std::string& what) const
    {
        throw Error(path_ + ": corrupt " + imageFormatName(format_) + " header (" + what + ")");
    }

    // `n` bytes at `offset` are in the file.
    bool has(std::size_t offset, std::size_t n) const { return offset <= size_ && n <= size_ - offset; }

    ImageHeader sized(std::int64_t width, std::int64_t height) const
    {
        if (width <= 0 || height <= 0)
            corrupt("it declares " + std::to_string(width) + "x" + std::to_string(height) + " pixels");
        if (width > kMaxImageSide || height > kMaxImageSide)
            throw Error(path_ + ": " + std::to_string(width) + "x" + std::to_string(height)
                        + " pixels: a side longer than " + std::to_string(kMaxImageSide)
                        + " pixels is more than the decoders read");
        return {format_, width, height};
    }

    ImageHeader png() const
    {
        // Signature, then the IHDR chunk, which must come first: length 13, "IHDR", width, height (big-endian).
        if (!has(8, 8 + 13))
            truncated("inside the IHDR chunk");
        if (std::memcmp(bytes_ + 12, "IHDR", 4) != 0)
            corrupt("the first chunk is '" + printable(bytes_ + 12, 4) + "', not IHDR");
        if (u32(bytes_ + 8, false) != 13)
            corrupt("an IHDR chunk of " + std::to_string(u32(bytes_ + 8, false)) + " bytes instead of 13");
        const std::uint32_t width = u32(bytes_ + 16, false), height = u32(bytes_ + 20, false);
        if (width > 0x7FFFFFFFu || height > 0x7FFFFFFFu) // the PNG specification's bound
            corrupt("it declares " + std::to_string(width) + "x" + std::to_string(height) + " pixels");
        return sized(width, height);
    }

    ImageHeader jpeg() const
    {
        // Walk the marker segments to the first frame header (SOFn), the one libjpeg decodes.
        std::size_t pos = 2;
        for (;;) {
            // As libjpeg and PIL do: bytes between segments that are no marker are skipped, and so are
            // fill bytes (0xFF repeated) and a stuffed 0xFF00.
            while (pos < size_ && bytes_[pos] != 0xFF)
                ++pos;
            while (pos < size_ && bytes_[pos] == 0xFF)
                ++pos;
            if (pos >= size_)
                truncated("before the frame header");
            const unsigned marker = bytes_[pos++];
            if (marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7))
                continue; // no segment: a stuffed byte, TEM, RSTn
            if (marker == 0xD8)
                corrupt("a second start-of-image marker");
            if (marker == 0xD9)
                corrupt("end of image before any frame header");
            if (marker == 0xDA)
                corrupt("a scan before any frame header");
            if (!has(pos, 2))
                truncated("inside a marker segment");
            const std::size_t length = u16(bytes_ + pos, false);
            if (length < 2)
                corrupt("a segment length of " + std::to_string(length) + " at byte " + std::to_string(pos));
            if (!has(pos, length))
                truncated("inside a marker segment");
            // SOF0..SOF15 but DHT (C4), JPG (C8) and DAC (CC), which share the range.
            const bool frame = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
            if (frame) {
                // Length, precision, height, width, component count, then 3 bytes per component.
                if (length < 8)
                    corrupt("a frame header of " + std::to_string(length) + " bytes");
                const unsigned components = bytes_[pos + 7];
                if (length != 8 + 3 * components)
                    corrupt("a frame header of " + std::to_string(length) + " bytes for " + std::to_string(components)
                            + " components");
                // Gray, YCbCr or RGB, CMYK or YCCK: what OpenCV converts. libjpeg takes up to 10, each
                // adding a full-size coefficient buffer to a progressive image.
                if (components != 1 && components != 3 && components != 4)
                    corrupt(std::to_string(components) + " colour components (1, 3 or 4 are read)");
                return sized(u16(bytes_ + pos + 5, false), u16(bytes_ + pos + 3, false));
            }
            pos += length;
        }
    }

    ImageHeader bmp() const
    {
        // File header (14 bytes), then the DIB header, whose size says which one it is.
        if (!has(14, 4))
            truncated("inside the file header");
        const std::uint32_t dib = u32(bytes_ + 14, true);
        if (dib == 12) { // BITMAPCOREHEADER (OS/2 1.x, Windows 2.x): unsigned 16-bit sides
            if (!has(14, 12))
                truncated("inside the bitmap header");
            return sized(u16(bytes_ + 18, true), u16(bytes_ + 20, true));
        }
        if (dib < 40 || dib > 0x10000)
            corrupt("a bitmap header of " + std::to_string(dib) + " bytes");
        if (!has(14, 40))
            truncated("inside the bitmap header");
        // BITMAPINFOHEADER and its successors (V4, V5): signed 32-bit sides, a negative height is top-down.
        const std::int64_t width = std::int32_t(u32(bytes_ + 18, true));
        const std::int64_t height = std::int32_t(u32(bytes_ + 22, true));
        if (width <= 0)
            corrupt("a width of " + std::to_string(width));
        return sized(width, height < 0 ? -height : height);
    }

    ImageHeader tiff() const
    {
        // Byte order, 42, the first directory's offset; tags 256 (width) and 257 (height) in that directory.
        const bool little = bytes_[0] == 'I';
        if (!has(0, 8))
            truncated("inside the file header");
        const std::uint32_t ifd = u32(bytes_ + 4, little);
        if (ifd < 8)
            corrupt("the first directory at byte " + std::to_string(ifd));
        if (!has(ifd, 2))
            truncated("before the first directory");
        const std::uint32_t count = u16(bytes_ + ifd, little);
        if (count == 0)
            corrupt("an empty first directory");
        // Image width and length (256, 257), tile width and length (322, 323).
        std::int64_t sides[4] = {-1, -1, -1, -1};
        for (std::uint32_t i = 0; i < count; ++i) {
            const std::size_t entry = std::size_t(ifd) + 2 + std::size_t(i) * 12;
            if (!has(entry, 12))
                truncated("inside the first directory");
            const std::uint32_t tag = u16(bytes_ + entry, little);
            const int index = tag == 256 ? 0 : tag == 257 ? 1 : tag == 322 ? 2 : tag == 323 ? 3 : -1;
            if (index < 0)
                continue;
            const char* const names[] = {"image width", "image height", "tile width", "tile height"};
            const char* name = names[index];
            const std::uint32_t type = u16(bytes_ + entry + 2, little), n = u32(bytes_ + entry + 4, little);
            if (n != 1)
                corrupt(std::string("a ") + name + " of " + std::to_string(n) + " values");
            std::int64_t value = 0;
            if (type == 3) // SHORT: in the first two bytes of the value field
                value = u16(bytes_ + entry + 8, little);
            else if (type == 4) // LONG
                value = u32(bytes_ + entry + 8, little);
            else
                corrupt(std::string("the ") + name + " stored as type " + std::to_string(type)
                        + " (SHORT or LONG expected)");
            std::int64_t& side = sides[index];
            // libtiff may keep either of two copies: they must agree, or nobody knows what is decoded.
            if (side >= 0 && side != value)
                corrupt(std::string("two different ") + name + "s");
            side = value;
        }
        if (sides[0] < 0 || sides[1] < 0)
            corrupt(std::string("no ") + (sides[0] < 0 ? "image width" : "image height") + " in the first directory");
        ImageHeader header = sized(sides[0], sides[1]);
        if (sides[2] > kMaxImageSide || sides[3] > kMaxImageSide)
            corrupt("tiles of " + std::to_string(sides[2]) + "x" + std::to_string(sides[3]) + " pixels");
        header.tileWidth = std::max<std::int64_t>(sides[2], 0);
        header.tileHeight = std::max<std::int64_t>(sides[3], 0);
        return header;
    }

    ImageHeader webp() const
    {
        // "RIFF" size "WEBP", then the first chunk: VP8 (lossy), VP8L (lossless) or VP8X (extended).
        if (!has(12, 8))
            truncated("before the first chunk");
        const unsigned char* chunk = bytes_ + 12;
        const unsigned char* payload = bytes_ + 20;
        if (std::memcmp(chunk, "VP8 ", 4) == 0) {
            // Frame tag (3 bytes, bit 0 clear on a key frame), start code 9D 01 2A, 14-bit width and height.
            if (!has(20, 10))
                truncated("inside the VP8 frame header");
            if ((payload[0] & 1) != 0 || payload[3] != 0x9D || payload[4] != 0x01 || payload[5] != 0x2A)
                corrupt("no VP8 key frame");
            return sized(u16(payload + 6, true) & 0x3FFF, u16(payload + 8, true) & 0x3FFF);
        }
        if (std::memcmp(chunk, "VP8L", 4) == 0) {
            // Signature 0x2F, then width - 1 and height - 1 in 14 bits each and a 3-bit version (0), LSB first.
            if (!has(20, 5))
                truncated("inside the VP8L header");
            const std::uint32_t bits = u32(payload + 1, true);
            if (payload[0] != 0x2F || (bits >> 29) != 0)
                corrupt("no VP8L signature");
            return sized(std::int64_t(bits & 0x3FFF) + 1, std::int64_t((bits >> 14) & 0x3FFF) + 1);
        }
        if (std::memcmp(chunk, "VP8X", 4) == 0) {
            // Flags, 3 reserved bytes, canvas width - 1 and height - 1 in 24 bits each: libwebp
            // decodes a still image only when its frame has exactly the canvas' size.
            if (!has(20, 10))
                truncated("inside the VP8X chunk");
            const std::int64_t width = std::int64_t(u32(payload + 4, true) & 0xFFFFFF) + 1;
            const std::int64_t height = std::int64_t(u32(payload + 6, true) >> 8) + 1;
            return sized(width, height);
        }
        corrupt("a first chunk '" + printable(chunk, 4) + "', not VP8, VP8L or VP8X");
    }

private:
    const unsigned char* bytes_;
    std::size_t size_;
    const std::string& path_;
    ImageFormat format_;
};

std::string describePixels(std::int64_t pixels)
{
    if (pixels < 100000)
        return std::to_string(pixels) + " pixels";
    char text[64];
    std::snprintf(text, sizeof text, "%.1f megapixels", double(pixels) / 1e6);
    return text;
}

std::string errnoText(int error) { return std::strerror(error); }

} // namespace

const char* imageFormatName(ImageFormat format)
{
    switch (format) {
    case ImageFormat::Png: return "PNG";
    case ImageFormat::Jpeg: return "JPEG";
    case ImageFormat::Bmp: return "BMP";
    case ImageFormat::Tiff: return "TIFF";
    case ImageFormat::WebP: return "WebP";
    }
    return "image";
}

ImageHeader readImageHeader(const unsigned char* bytes, std::size_t size, const std::string& path)
{
    if (size == 0)
        throw Error(path + ": the file is empty");
    ImageFormat format;
    if (startsWith(bytes, size, 0, "\x89PNG\r\n\x1a\n"))
        format = ImageFormat::Png;
    else if (startsWith(bytes, size, 0, "\xFF\xD8\xFF"))
        format = ImageFormat::Jpeg;
    else if (startsWith(bytes, size, 0, "BM"))
        format = ImageFormat::Bmp;
    else if (size >= 4 && (std::memcmp(bytes, "II*\0", 4) == 0 || std::memcmp(bytes, "MM\0*", 4) == 0))
        format = ImageFormat::Tiff;
    else if (startsWith(bytes, size, 0, "RIFF") && startsWith(bytes, size, 8, "WEBP"))
        format = ImageFormat::WebP;
    else if (size >= 4 && (std::memcmp(bytes, "II+\0", 4) == 0 || std::memcmp(bytes, "MM\0+", 4) == 0))
        throw Error(path + ": a BigTIFF file (only classic TIFF is read)");
    else if (const char* promised = formatOfExtension(path))
        throw Error(path + ": not a " + promised + " image (its first bytes match no supported format)");
    else
        throw Error(path
                    + ": not an image LayerScope reads (its first bytes match none of PNG, JPEG, BMP, TIFF, WebP)");

    // OpenCV tries its decoders in order and takes the first whose signature matches. Ours come before
    // DICOM (GDCM) and GDAL, but should OpenCV's own check for our format ever disagree with ours, these
    // two, the only signatures not at byte 0, would be next: a file that carries one is refused.
    if (startsWith(bytes, size, 128, "DICM"))
        throw Error(path + ": a " + imageFormatName(format)
                    + " header, but also DICOM's signature at byte 128: refused, DICOM files are not read");
    if (startsWith(bytes, size, 140, "DTED"))
        throw Error(path + ": a " + imageFormatName(format)
                    + " header, but also DTED's signature at byte 140: refused, DTED files are not read");

    const HeaderReader reader(bytes, size, path, format);
    switch (format) {
    case ImageFormat::Png: return reader.png();
    case ImageFormat::Jpeg: return reader.jpeg();
    case ImageFormat::Bmp: return reader.bmp();
    case ImageFormat::Tiff: return reader.tiff();
    case ImageFormat::WebP: return reader.webp();
    }
    throw Error(path + ": unknown image format");
}

void checkPixelLimit(const ImageHeader& header, std::int64_t limit, const std::string& path)
{
    auto check = [&](const char* what, std::int64_t width, std::int64_t height) {
        const std::int64_t pixels = width * height; // both at most 2^20: no overflow
        if (limit <= 0 || pixels <= limit)
            return;
        const std::string size = std::to_string(width) + "x" + std::to_string(height) + " pixels";
        throw Error(path + ": " + what + size + (pixels >= 100000 ? " (" + describePixels(pixels) + ")" : std::string())
                    + " exceeds the limit of " + describePixels(limit) + " (raise it with --max-pixels)");
    };
    check("", header.width, header.height);
    check("a TIFF tile of ", header.tileWidth, header.tileHeight);
}

std::vector<unsigned char> readImageFile(const std::string& path, std::size_t maxBytes)
{
    // stat first, so that a device is never opened; then open without blocking (a FIFO would wait for a
    // writer) and check the opened file again, since the path may have changed in between.
    struct stat info { };
    if (::stat(path.c_str(), &info) != 0) {
        const int error = errno;
        if (error == ENOENT)
            throw Error(path + ": no such file");
        throw Error(path + ": cannot be read (" + errnoText(error) + ")");
    }
    auto refuseIfIrregular = [&](const struct stat& s) {
        if (S_ISDIR(s.st_mode))
            throw Error(path + ": is a folder, not an image");
        if (S_ISFIFO(s.st_mode))
            throw Error(path + ": is a named pipe (FIFO), not an image file");
        if (S_ISCHR(s.st_mode) || S_ISBLK(s.st_mode))
            throw Error(path + ": is a device, not an image file");
        if (!S_ISREG(s.st_mode))
            throw Error(path + ": is not a regular file");
    };
    refuseIfIrregular(info);
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        throw Error(path + ": cannot be read (" + errnoText(errno) + ")");
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer {fd};
    if (::fstat(fd, &info) != 0)
        throw Error(path + ": cannot be read (" + errnoText(errno) + ")");
    refuseIfIrregular(info);

    const auto fileSize = static_cast<std::uint64_t>(std::max<off_t>(info.st_size, 0));
    std::vector<unsigned char> bytes(std::size_t(std::min<std::uint64_t>(fileSize, maxBytes)));
    std::size_t done = 0;
    while (done < bytes.size()) { // a file that shrinks meanwhile gives fewer bytes, never a longer read
        const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw Error(path + ": cannot be read (" + errnoText(errno) + ")");
        if (n == 0)
            break;
        done += std::size_t(n);
    }
    bytes.resize(done);
    return bytes;
}

} // namespace detail

namespace {

std::atomic<std::int64_t> g_maxImagePixels {kDefaultMaxImagePixels};

// Enough for the header of nearly every file; a JPEG with large EXIF or ICC segments before its
// frame header is read again whole.
constexpr std::size_t kHeaderPrefix = 256 * 1024;

} // namespace

void setMaxImagePixels(std::int64_t pixels) { g_maxImagePixels.store(pixels, std::memory_order_relaxed); }

std::int64_t maxImagePixels() { return g_maxImagePixels.load(std::memory_order_relaxed); }

ImageFileInfo checkImageFile(const std::string& path)
{
    std::vector<unsigned char> bytes = detail::readImageFile(path, kHeaderPrefix);
    detail::ImageHeader header;
    try {
        header = detail::readImageHeader(bytes.data(), bytes.size(), path);
    } catch (const Error&) {
        if (bytes.size() < kHeaderPrefix)
            throw;
        bytes = detail::readImageFile(path);
        header = detail::readImageHeader(bytes.data(), bytes.size(), path);
    }
    detail::checkPixelLimit(header, maxImagePixels(), path);
    return {detail::imageFormatName(header.format), header.width, header.height};
}

} // namespace layerscope
