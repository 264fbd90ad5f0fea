#include "layerscope/render.h"

#include "layerscope/error.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace layerscope {

namespace {

// Blue - white - red, for signed values: zero is white.
cv::Mat divergingLut()
{
    cv::Mat lut(256, 1, CV_8UC3);
    for (int i = 0; i < 256; ++i) {
        const double t = i / 255.0 * 2.0 - 1.0; // -1 .. 1
        const double a = std::abs(t);
        const cv::Vec3d white(247, 247, 247), blue(172, 97, 33), red(32, 41, 178); // BGR
        const cv::Vec3d end = t < 0 ? blue : red;
        const cv::Vec3d c = white * (1 - a) + end * a;
        lut.at<cv::Vec3b>(i)
            = cv::Vec3b(cv::saturate_cast<uchar>(c[0]), cv::saturate_cast<uchar>(c[1]), cv::saturate_cast<uchar>(c[2]));
    }
    return lut;
}

// Values to 0..255 colormap indices, written into `indices` (same size as `values`).
void toIndices(const cv::Mat& values, float low, float high, Colormap colormap, cv::Mat indices)
{
    if (colormap == Colormap::Diverging) {
        const float bound = std::max(std::abs(low), std::abs(high));
        const double scale = bound > 0 ? 127.5 / bound : 0.0;
        values.convertTo(indices, CV_8U, scale, 127.5);
    } else {
        const double range = high > low ? high - low : 1.0;
        values.convertTo(indices, CV_8U, 255.0 / range, -low * 255.0 / range);
    }
}

// Indices through the map; returns RGB.
cv::Mat applyMap(const cv::Mat& indices, Colormap colormap)
{
    cv::Mat bgr;
    switch (colormap) {
    case Colormap::Gray: cv::cvtColor(indices, bgr, cv::COLOR_GRAY2BGR); break;
    case Colormap::Viridis: cv::applyColorMap(indices, bgr, cv::COLORMAP_VIRIDIS); break;
    case Colormap::Magma: cv::applyColorMap(indices, bgr, cv::COLORMAP_MAGMA); break;
    case Colormap::Inferno: cv::applyColorMap(indices, bgr, cv::COLORMAP_INFERNO); break;
    case Colormap::Plasma: cv::applyColorMap(indices, bgr, cv::COLORMAP_PLASMA); break;
    case Colormap::Jet: cv::applyColorMap(indices, bgr, cv::COLORMAP_JET); break;
    case Colormap::Turbo: cv::applyColorMap(indices, bgr, cv::COLORMAP_TURBO); break;
    case Colormap::Diverging: {
        static const cv::Mat lut = divergingLut();
        cv::applyColorMap(indices, bgr, lut);
        break;
    }
    }
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    return rgb;
}

cv::Mat colorize(const cv::Mat& values, float low, float high, Colormap colormap)
{
    cv::Mat indices(values.size(), CV_8U);
    toIndices(values, low, high, colormap, indices);
    return applyMap(indices, colormap);
}

void finiteRange(const cv::Mat& values, float* low, float* high)
{
    *low = std::numeric_limits<float>::max();
    *high = std::numeric_limits<float>::lowest();
    for (int r = 0; r < values.rows; ++r) {
        const float* row = values.ptr<float>(r);
        for (int c = 0; c < values.cols; ++c) {
            if (std::isfinite(row[c])) {
                *low = std::min(*low, row[c]);
                *high = std::max(*high, row[c]);
            }
        }
    }
    if (*low > *high)
        *low = *high = 0;
}

} // namespace

RgbImage renderChannelGrid(const Tensor& capture, std::int64_t sample, const GridOptions& options)
{
    if (capture.shape.size() != 4)
        throw Error("a channel grid needs a 4-D [N, C, H, W] activation, not " + shapeToString(capture.shape));
    const std::int64_t n = capture.shape[0], channels = capture.shape[1];
    const int height = int(capture.shape[2]), width = int(capture.shape[3]);
    if (sample < 0 || sample >= n)
        throw Error("sample " + std::to_string(sample) + " out of range: the batch has " + std::to_string(n));
    // Only the shown sample is converted (a float16 batch of 16 would otherwise be converted whole).
    const Tensor values = convertFloating(rowsOf(capture, sample, 1), DType::Float32);
    const float* base = values.values<float>();

    const GridLayout layout = gridLayout(channels, width, height, options);
    const int columns = layout.columns, rows = layout.rows;
    const int tileWidth = layout.tileWidth, tileHeight = layout.tileHeight;
    const cv::Size size(columns * tileWidth + (columns - 1) * options.gap,
                        rows * tileHeight + (rows - 1) * options.gap);
    // Every tile's colormap indices go into one image that is colorized once: one OpenCV call per
    // tile, not five (512 small tiles otherwise cost more in calls than in pixels).
    cv::Mat indices(size, CV_8U, cv::Scalar(0));
    cv::Mat gaps(size, CV_8U, cv::Scalar(255));

    float layerLow = 0, layerHigh = 0;
    if (options.normalization == Normalization::LayerWide)
        finiteRange(cv::Mat(int(channels) * height, width, CV_32F, const_cast<float*>(base)), &layerLow, &layerHigh);
    cv::Mat scaled;
    for (std::int64_t tile = 0; tile < channels; ++tile) {
        const std::int64_t c
            = tile < std::int64_t(options.channelOrder.size()) ? options.channelOrder[std::size_t(tile)] : tile;
        const cv::Mat plane(height, width, CV_32F, const_cast<float*>(base + c * height * width));
        float low = layerLow, high = layerHigh;
        if (options.normalization == Normalization::PerChannel)
            finiteRange(plane, &low, &high);
        const cv::Rect where(int(tile % columns) * (tileWidth + options.gap),
                             int(tile / columns) * (tileHeight + options.gap), tileWidth, tileHeight);
        if (options.scale > 1) {
            toIndices(plane, low, high, options.colormap, scaled = cv::Mat(plane.size(), CV_8U));
            cv::resize(scaled, indices(where), where.size(), 0, 0, cv::INTER_NEAREST);
        } else {
            toIndices(plane, low, high, options.colormap, indices(where));
        }
        gaps(where).setTo(0);
    }
    cv::Mat grid = applyMap(indices, options.colormap);
    grid.setTo(cv::Scalar(options.gapColor[0], options.gapColor[1], options.gapColor[2]), gaps);
    RgbImage image;
    image.width = grid.cols;
    image.height = grid.rows;
    image.pixels.assign(grid.data, grid.data + grid.total() * 3);
    return image;
}

int GridLayout::tileAt(int x, int y) const
{
    if (x < 0 || y < 0 || tileWidth <= 0 || tileHeight <= 0)
        return -1;
    const int column = x / (tileWidth + gap), row = y / (tileHeight + gap);
    if (column >= columns || row >= rows || x % (tileWidth + gap) >= tileWidth || y % (tileHeight + gap) >= tileHeight)
        return -1;
    return row * columns + column;
}

GridLayout gridLayout(std::int64_t channels, int width, int height, const GridOptions& options)
{
    GridLayout layout;
    layout.columns = options.columns > 0 ? options.columns : std::max(1, int(std::ceil(std::sqrt(double(channels)))));
    layout.rows = std::max<int>(1, int((channels + layout.columns - 1) / layout.columns));
    layout.tileWidth = width * options.scale;
    layout.tileHeight = height * options.scale;
    layout.gap = options.gap;
    return layout;
}

std::array<std::uint8_t, 3> colormapColor(Colormap colormap, double t)
{
    t = std::clamp(t, 0.0, 1.0);
    cv::Mat value(1, 1, CV_32F, cv::Scalar(float(t)));
    const cv::Mat rgb = colormap == Colormap::Diverging ? colorize(value * 2.0f - 1.0f, -1.0f, 1.0f, colormap)
                                                        : colorize(value, 0.0f, 1.0f, colormap);
    const auto pixel = rgb.at<cv::Vec3b>(0, 0);
    return {pixel[0], pixel[1], pixel[2]};
}

std::vector<int> sortChannels(const Tensor& capture, std::int64_t sample, ChannelOrder order)
{
    if (capture.shape.size() != 4)
        throw Error("channels can be sorted in a 4-D [N, C, H, W] activation only");
    const std::int64_t channels = capture.shape[1], plane = capture.shape[2] * capture.shape[3];
    std::vector<int> indices(static_cast<std::size_t>(channels), 0);
    for (int c = 0; c < int(channels); ++c)
        indices[std::size_t(c)] = c;
    if (order == ChannelOrder::Index)
        return indices;
    const Tensor values = convertFloating(rowsOf(capture, sample, 1), DType::Float32);
    const float* base = values.values<float>();
    std::vector<double> key(static_cast<std::size_t>(channels), 0.0);
    for (std::int64_t c = 0; c < channels; ++c) {
        const cv::Mat p(1, int(plane), CV_32F, const_cast<float*>(base + c * plane));
        cv::Scalar mean, stddev;
        double low, high;
        switch (order) {
        case ChannelOrder::Mean: key[std::size_t(c)] = cv::mean(p)[0]; break;
        case ChannelOrder::Max:
            cv::minMaxLoc(p, &low, &high);
            key[std::size_t(c)] = high;
            break;
        case ChannelOrder::Std:
            cv::meanStdDev(p, mean, stddev);
            key[std::size_t(c)] = stddev[0];
            break;
        case ChannelOrder::ZeroFraction:
            key[std::size_t(c)] = double(plane - cv::countNonZero(p)) / double(plane);
            break;
        case ChannelOrder::Index: break;
        }
    }
    std::stable_sort(indices.begin(), indices.end(),
                     [&](int a, int b) { return key[std::size_t(a)] > key[std::size_t(b)]; });
    return indices;
}

std::vector<std::uint8_t> encodePng(const RgbImage& image)
{
    cv::Mat rgb(image.height, image.width, CV_8UC3, const_cast<std::uint8_t*>(image.pixels.data())), bgr;
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
    std::vector<std::uint8_t> bytes;
    cv::imencode(".png", bgr, bytes);
    return bytes;
}

} // namespace layerscope
