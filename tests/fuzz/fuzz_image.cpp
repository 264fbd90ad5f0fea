// libFuzzer target: the image header readers (core/src/inputs/imageheader.cpp), and OpenCV's decoders behind
// them for what they let through. Besides crashes and sanitizer reports, one oracle: a decoded image
// has exactly the size its header declared, else the pixel limit was checked against a size other
// than the one decoded. Run with -malloc_limit_mb=512: a header of at most 4 megapixels never needs
// more, so a larger allocation is a bomb that got past the check.

#include "inputs/imageheader_p.h"
#include "layerscope/error.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    layerscope::detail::ImageHeader header;
    try {
        header = layerscope::detail::readImageHeader(data, size, "input");
        layerscope::detail::checkPixelLimit(header, 4000000, "input");
    } catch (const layerscope::Error&) {
        return 0;
    }
    cv::Mat image;
    try {
        const cv::Mat buffer(1, int(size), CV_8U, const_cast<uint8_t*>(data));
        image = cv::imdecode(buffer, cv::IMREAD_UNCHANGED); // as stored: no EXIF turn
    } catch (const cv::Exception&) {
        return 0;
    }
    if (!image.empty() && (image.cols != header.width || image.rows != header.height)) {
        std::fprintf(stderr, "%s header says %lldx%lld, OpenCV decoded %dx%d\n",
                     layerscope::detail::imageFormatName(header.format), static_cast<long long>(header.width),
                     static_cast<long long>(header.height), image.cols, image.rows);
        std::abort();
    }
    return 0;
}
