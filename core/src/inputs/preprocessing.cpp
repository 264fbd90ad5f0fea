#include "layerscope/preprocessing.h"

#include "inputs/imageheader_p.h"
#include "layerscope/error.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace layerscope {

namespace {

int cvInterpolation(Interpolation interpolation)
{
    switch (interpolation) {
    case Interpolation::Linear: return cv::INTER_LINEAR;
    case Interpolation::Area: return cv::INTER_AREA;
    case Interpolation::Cubic: return cv::INTER_CUBIC;
    case Interpolation::Nearest: return cv::INTER_NEAREST;
    }
    return cv::INTER_LINEAR;
}

cv::Mat decode(const std::string& path)
{
    if (!isImageFile(path)) {
        std::error_code ec;
        if (!std::filesystem::exists(path, ec))
            throw Error(path + ": no such file");
        if (std::filesystem::is_directory(path, ec))
            throw Error(path + ": is a folder, not an image");
        throw Error(path + ": not an image file LayerScope reads (PNG, JPEG, BMP, TIFF, WebP)");
    }
    // The whole file, its size known before reading; then its header, before OpenCV sees a byte:
    // imdecode would hand other signatures to decoders LayerScope does not trust (DICOM, EXR ...)
    // and decode a gigapixel image that a few hundred bytes declare.
    const std::vector<uchar> bytes = detail::readImageFile(path);
    const detail::ImageHeader header = detail::readImageHeader(bytes.data(), bytes.size(), path);
    detail::checkPixelLimit(header, maxImagePixels(), path);
    // JPEG has no alpha, and its EXIF orientation is applied only without IMREAD_UNCHANGED;
    // the other formats keep alpha and 16 bits with IMREAD_UNCHANGED.
    const bool jpeg = header.format == detail::ImageFormat::Jpeg;
    const int flags = jpeg ? (cv::IMREAD_ANYCOLOR | cv::IMREAD_ANYDEPTH) : cv::IMREAD_UNCHANGED;
    if (jpeg) {
        // libjpeg fills a truncated JPEG with gray and only warns: look for the end-of-image marker.
        std::size_t end = bytes.size();
        while (end > 2 && bytes[end - 1] == 0)
            --end;
        if (end < 4 || bytes[end - 2] != 0xFF || bytes[end - 1] != 0xD9)
            throw Error(path + ": truncated JPEG (no end-of-image marker)");
    }
    cv::Mat image;
    try {
        image = cv::imdecode(bytes, flags);
    } catch (const cv::Exception& error) {
        throw Error(path + ": corrupt image (" + error.err + ")");
    }
    if (image.empty())
        throw Error(path + ": corrupt or truncated " + detail::imageFormatName(header.format)
                    + " (OpenCV could not decode it)");
    if (image.depth() != CV_8U && image.depth() != CV_16U && image.depth() != CV_32F)
        throw Error(path + ": unsupported pixel depth (8-bit, 16-bit and float images are read)");
    return image;
}

cv::Mat toFloat(const cv::Mat& image, bool scaleTo01)
{
    double scale = 1.0;
    if (scaleTo01)
        scale = image.depth() == CV_8U ? 1.0 / 255.0 : image.depth() == CV_16U ? 1.0 / 65535.0 : 1.0;
    cv::Mat result;
    image.convertTo(result, CV_32F, scale);
    return result;
}

cv::Mat convertColor(const cv::Mat& image, ColorMode mode)
{
    const int channels = image.channels();
    int code = -1;
    switch (mode) {
    case ColorMode::Gray: code = channels == 3 ? cv::COLOR_BGR2GRAY : channels == 4 ? cv::COLOR_BGRA2GRAY : -1; break;
    case ColorMode::RGB:
        code = channels == 1 ? cv::COLOR_GRAY2RGB : channels == 3 ? cv::COLOR_BGR2RGB : cv::COLOR_BGRA2RGB;
        break;
    case ColorMode::BGR: code = channels == 1 ? cv::COLOR_GRAY2BGR : channels == 3 ? -1 : cv::COLOR_BGRA2BGR; break;
    }
    if (code < 0)
        return image;
    cv::Mat result;
    cv::cvtColor(image, result, code);
    return result;
}

cv::Mat resize(const cv::Mat& image, const Preprocessing& p)
{
    int width = image.cols, height = image.rows;
    if (p.resize == ResizeMode::Exact) {
        width = p.resizeWidth;
        height = p.resizeHeight;
    } else if (p.resize == ResizeMode::ShorterSide) {
        // As torchvision's Resize(int): the shorter side becomes `size`, the longer one is truncated.
        if (width <= height) {
            height = static_cast<int>(static_cast<double>(p.resizeWidth) * height / width);
            width = p.resizeWidth;
        } else {
            width = static_cast<int>(static_cast<double>(p.resizeWidth) * width / height);
            height = p.resizeWidth;
        }
    }
    if (width == image.cols && height == image.rows)
        return image;
    cv::Mat result;
    cv::resize(image, result, cv::Size(width, height), 0, 0, cvInterpolation(p.interpolation));
    return result;
}

// As torchvision's CenterCrop: offsets rounded half to even; zero padding where the crop is larger.
cv::Mat centerCrop(const cv::Mat& image, int width, int height)
{
    if (width <= 0 || height <= 0 || (width == image.cols && height == image.rows))
        return image;
    cv::Mat source = image;
    if (width > image.cols || height > image.rows) {
        const int padX = std::max(0, width - image.cols), padY = std::max(0, height - image.rows);
        cv::copyMakeBorder(image, source, padY / 2, (padY + 1) / 2, padX / 2, (padX + 1) / 2, cv::BORDER_CONSTANT, 0);
    }
    const int top = static_cast<int>(std::nearbyint((source.rows - height) / 2.0));
    const int left = static_cast<int>(std::nearbyint((source.cols - width) / 2.0));
    return source(cv::Rect(left, top, width, height)).clone();
}

} // namespace

Preprocessing Preprocessing::imagenet()
{
    Preprocessing p;
    p.resize = ResizeMode::ShorterSide;
    p.resizeWidth = 256;
    p.cropWidth = p.cropHeight = 224;
    p.color = ColorMode::RGB;
    p.scaleTo01 = true;
    p.mean = {0.485f, 0.456f, 0.406f};
    p.std = {0.229f, 0.224f, 0.225f};
    return p;
}

Preprocessing Preprocessing::gray(int width, int height)
{
    Preprocessing p;
    p.color = ColorMode::Gray;
    if (width > 0) {
        p.resize = ResizeMode::Exact;
        p.resizeWidth = width;
        p.resizeHeight = height > 0 ? height : width;
    }
    return p;
}

bool isImageFile(const std::string& path)
{
    static const char* const extensions[] = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"};
    const std::string extension = detail::lowerExtension(path);
    return std::any_of(std::begin(extensions), std::end(extensions), [&](const char* e) { return extension == e; });
}

Tensor loadImage(const std::string& path, const Preprocessing& p)
{
    if ((!p.mean.empty() && int(p.mean.size()) != p.channels())
        || (!p.std.empty() && int(p.std.size()) != p.channels()))
        throw Error("preprocessing: mean and std need " + std::to_string(p.channels()) + " values for "
                    + (p.color == ColorMode::Gray ? "grayscale" : "colour") + " images");
    cv::Mat image = decode(path);
    // Colour, resize and crop work on the decoded 8- or 16-bit pixels, as PIL and torchvision do:
    // four times cheaper than on floats, and only the cropped pixels are converted.
    image = convertColor(image, p.color);
    image = resize(image, p);
    image = centerCrop(image, p.cropWidth, p.cropHeight);
    image = toFloat(image, p.scaleTo01);

    const int channels = image.channels(), height = image.rows, width = image.cols;
    Tensor tensor = Tensor::zeros({channels, height, width}, DType::Float32);
    float* out = static_cast<float*>(tensor.mutableData());
    std::vector<cv::Mat> planes;
    for (int c = 0; c < channels; ++c) // split straight into the tensor's CHW planes
        planes.emplace_back(height, width, CV_32F, out + static_cast<std::size_t>(c) * height * width);
    cv::split(image, planes);
    for (int c = 0; c < channels; ++c) {
        const float* plane = out + static_cast<std::size_t>(c) * height * width;
        if (planes[c].ptr<float>() != plane) // OpenCV reallocated: copy into place
            planes[c].copyTo(cv::Mat(height, width, CV_32F, const_cast<float*>(plane)));
        cv::Mat target(height, width, CV_32F, const_cast<float*>(plane));
        if (!p.mean.empty())
            cv::subtract(target, cv::Scalar(p.mean[c]), target);
        if (!p.std.empty())
            cv::divide(target, cv::Scalar(p.std[c]), target);
    }
    return tensor;
}

std::vector<std::string> listImages(const std::string& folder, bool recursive)
{
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_directory(folder, ec))
        throw Error(folder + ": not a folder");
    std::vector<std::string> files;
    auto add = [&](const fs::directory_entry& entry) {
        if (entry.is_regular_file(ec) && isImageFile(entry.path().string()))
            files.push_back(entry.path().string());
    };
    if (recursive) {
        for (const auto& entry :
             fs::recursive_directory_iterator(folder, fs::directory_options::skip_permission_denied, ec))
            add(entry);
    } else {
        for (const auto& entry : fs::directory_iterator(folder, ec))
            add(entry);
    }
    std::sort(files.begin(), files.end());
    return files;
}

} // namespace layerscope

#include <nlohmann/json.hpp>

#include <sstream>

namespace layerscope {

namespace {

const char* const kColorNames[] = {"gray", "rgb", "bgr"};
const char* const kInterpolationNames[] = {"linear", "area", "cubic", "nearest"};

template <typename Enum, std::size_t N>
Enum enumFromName(const std::string& name, const char* const (&names)[N], const char* what)
{
    for (std::size_t i = 0; i < N; ++i) {
        if (name == names[i])
            return static_cast<Enum>(i);
    }
    throw Error("preprocessing: unknown " + std::string(what) + " '" + name + "'");
}

} // namespace

std::string Preprocessing::toJson() const
{
    nlohmann::ordered_json json;
    if (resize == ResizeMode::Exact)
        json["resize"] = {{"mode", "exact"}, {"width", resizeWidth}, {"height", resizeHeight}};
    else if (resize == ResizeMode::ShorterSide)
        json["resize"] = {{"mode", "shorter_side"}, {"size", resizeWidth}};
    else
        json["resize"] = nullptr;
    json["crop"] = cropWidth > 0 ? nlohmann::ordered_json {{"width", cropWidth}, {"height", cropHeight}}
                                 : nlohmann::ordered_json();
    json["color"] = kColorNames[static_cast<int>(color)];
    json["scale_to_01"] = scaleTo01;
    json["mean"] = mean;
    json["std"] = std;
    json["interpolation"] = kInterpolationNames[static_cast<int>(interpolation)];
    return json.dump();
}

Preprocessing Preprocessing::fromJson(const std::string& text)
{
    Preprocessing p;
    try {
        const auto json = nlohmann::json::parse(text);
        if (json.contains("resize") && !json["resize"].is_null()) {
            const auto& resize = json["resize"];
            if (resize.at("mode") == "exact") {
                p.resize = ResizeMode::Exact;
                p.resizeWidth = resize.at("width");
                p.resizeHeight = resize.at("height");
            } else {
                p.resize = ResizeMode::ShorterSide;
                p.resizeWidth = resize.at("size");
            }
        }
        if (json.contains("crop") && !json["crop"].is_null()) {
            p.cropWidth = json["crop"].at("width");
            p.cropHeight = json["crop"].at("height");
        }
        p.color = enumFromName<ColorMode>(json.value("color", "rgb"), kColorNames, "colour mode");
        p.scaleTo01 = json.value("scale_to_01", true);
        p.mean = json.value("mean", std::vector<float> {});
        p.std = json.value("std", std::vector<float> {});
        p.interpolation
            = enumFromName<Interpolation>(json.value("interpolation", "linear"), kInterpolationNames, "interpolation");
    } catch (const nlohmann::json::exception& error) {
        throw Error(std::string("preprocessing: not a valid description (") + error.what() + ")");
    }
    return p;
}

std::string Preprocessing::describe() const
{
    std::ostringstream out;
    if (resize == ResizeMode::Exact)
        out << "resize to " << resizeWidth << "x" << resizeHeight << " (" << kInterpolationNames[int(interpolation)]
            << "), ";
    else if (resize == ResizeMode::ShorterSide)
        out << "shorter side to " << resizeWidth << " (" << kInterpolationNames[int(interpolation)] << "), ";
    if (cropWidth > 0)
        out << "center crop " << cropWidth << "x" << cropHeight << ", ";
    out << (color == ColorMode::Gray ? "grayscale" : color == ColorMode::RGB ? "RGB" : "BGR");
    out << (scaleTo01 ? ", scaled to [0,1]" : ", raw pixel values");
    auto list = [](const std::vector<float>& values) {
        std::ostringstream text;
        for (std::size_t i = 0; i < values.size(); ++i)
            text << (i ? "," : "") << values[i];
        return text.str();
    };
    if (!mean.empty() || !std.empty())
        out << ", normalized with mean " << (mean.empty() ? "0" : list(mean)) << " and std "
            << (std.empty() ? "1" : list(std));
    return out.str();
}

} // namespace layerscope
