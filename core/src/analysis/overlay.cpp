// Attribution maps over the image the model saw: what `cam --overlay` writes and the Explain view draws.

#include "formats/atomicfile_p.h"
#include "layerscope/error.h"
#include "layerscope/render.h"
#include "layerscope/statistics.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <array>
#include <cmath>

namespace layerscope {

namespace {

// Drops leading axes of size 1 down to `rank` axes.
std::vector<std::int64_t> squeezedShape(const Tensor& tensor, std::size_t rank, const char* what)
{
    std::vector<std::int64_t> shape = tensor.shape;
    while (shape.size() > rank && shape.front() == 1)
        shape.erase(shape.begin());
    if (shape.size() != rank)
        throw Error(std::string(what) + ": expected " + std::to_string(rank) + " axes, not "
                    + shapeToString(tensor.shape));
    return shape;
}

} // namespace

RgbImage renderInputImage(const Tensor& image)
{
    const std::vector<std::int64_t> s = squeezedShape(image, 3, "an input image");
    if (s[0] != 1 && s[0] != 3)
        throw Error("an input image needs 1 or 3 channels, not " + shapeToString(image.shape));
    const int channels = int(s[0]), height = int(s[1]), width = int(s[2]);
    const std::vector<double> values = valuesAsDoubles(image);
    double low = 0, high = 0;
    bool first = true;
    for (double v : values)
        if (std::isfinite(v)) {
            low = first ? v : std::min(low, v), high = first ? v : std::max(high, v);
            first = false;
        }
    const double range = high > low ? high - low : 1.0;
    RgbImage out {width, height, std::vector<std::uint8_t>(std::size_t(width) * height * 3)};
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x)
            for (int c = 0; c < 3; ++c) {
                const double v = values[std::size_t((std::min(c, channels - 1) * height + y) * width + x)];
                const double level = std::isfinite(v) ? (v - low) / range * 255.0 + 0.5 : 0.0;
                out.pixels[(std::size_t(y) * width + x) * 3 + c] = std::uint8_t(std::clamp(level, 0.0, 255.0));
            }
    return out;
}

Tensor upsampledMap(const Tensor& map, int height, int width)
{
    const std::vector<std::int64_t> s = squeezedShape(map, 2, "an attribution map");
    if (height <= 0 || width <= 0 || s[0] <= 0 || s[1] <= 0)
        throw Error("an attribution map and its image need a size, not " + shapeToString(map.shape));
    const Tensor values = convertFloating(map, DType::Float32);
    const cv::Mat small(static_cast<int>(s[0]), static_cast<int>(s[1]), CV_32F,
                        const_cast<float*>(values.values<float>()));
    cv::Mat large;
    cv::resize(small, large, cv::Size(width, height), 0, 0, cv::INTER_LINEAR);
    double low = 0, high = 0;
    cv::patchNaNs(large, 0.0);
    cv::minMaxLoc(large, &low, &high);
    Tensor out = Tensor::zeros({height, width}, DType::Float32);
    float* o = static_cast<float*>(out.mutableData());
    if (high > low)
        for (int y = 0; y < height; ++y)
            for (int x = 0; x < width; ++x)
                o[y * width + x] = float((large.at<float>(y, x) - low) / (high - low));
    return out;
}

RgbImage renderOverlay(const Tensor& image, const Tensor& map, Colormap colormap, double opacity)
{
    RgbImage out = renderInputImage(image);
    Tensor magnitude = map;
    const std::vector<double> values = valuesAsDoubles(map);
    if (std::any_of(values.begin(), values.end(), [](double v) { return v < 0; })) {
        magnitude = Tensor::zeros(map.shape, DType::Float32); // signed (integrated gradients): |map|
        std::transform(values.begin(), values.end(), static_cast<float*>(magnitude.mutableData()),
                       [](double v) { return float(std::abs(v)); });
    }
    const Tensor level = upsampledMap(magnitude, out.height, out.width);
    const double a = std::clamp(opacity, 0.0, 1.0);
    std::array<std::array<std::uint8_t, 3>, 256> colours; // colormapColor is slow per pixel: a table
    for (int i = 0; i < 256; ++i)
        colours[std::size_t(i)] = colormapColor(colormap, i / 255.0);
    for (std::size_t p = 0; p < std::size_t(out.width) * out.height; ++p) {
        const auto& colour = colours[std::size_t(std::lround(level.values<float>()[p] * 255.0))];
        for (int c = 0; c < 3; ++c) {
            std::uint8_t& pixel = out.pixels[p * 3 + c];
            pixel = std::uint8_t(std::lround((1 - a) * pixel + a * colour[std::size_t(c)]));
        }
    }
    return out;
}

void writePng(const RgbImage& image, const std::string& path)
{
    const std::vector<std::uint8_t> png = encodePng(image);
    detail::AtomicFile file(path);
    file.write(png.data(), png.size());
    file.commit();
}

} // namespace layerscope
