// What the atlas's projector and neighbour strip compute from the pooled vectors.

#include "layerscope/atlas.h"

#include "layerscope/error.h"

#include <opencv2/core.hpp>

#include <algorithm>
#include <cmath>

namespace layerscope {

namespace {

void checkPooled(const Tensor& pooled)
{
    if (pooled.dtype != DType::Float32 || pooled.shape.size() != 2)
        throw Error("pooled vectors must be [images, channels] float32, not " + dtypeName(pooled.dtype) + " "
                    + shapeToString(pooled.shape));
}

bool finiteRow(const float* row, std::int64_t channels)
{
    return std::all_of(row, row + channels, [](float v) { return std::isfinite(v); });
}

} // namespace

Projection projectPooled(const Tensor& pooled)
{
    checkPooled(pooled);
    const std::int64_t images = pooled.shape[0], channels = pooled.shape[1];
    Projection projection;
    projection.x.assign(std::size_t(images), std::nanf(""));
    projection.y.assign(std::size_t(images), std::nanf(""));
    std::vector<int> kept;
    for (std::int64_t i = 0; i < images; ++i)
        if (finiteRow(pooled.values<float>() + i * channels, channels))
            kept.push_back(int(i));
    if (kept.size() < 2 || channels < 1)
        return projection;
    cv::Mat data(int(kept.size()), int(channels), CV_64F);
    for (std::size_t r = 0; r < kept.size(); ++r)
        for (std::int64_t c = 0; c < channels; ++c)
            data.at<double>(int(r), int(c)) = pooled.values<float>()[kept[r] * channels + c];
    const int components = int(std::min<std::int64_t>(2, std::min<std::int64_t>(channels, std::int64_t(kept.size()))));
    cv::PCA pca(data, cv::noArray(), cv::PCA::DATA_AS_ROW, components);
    cv::Mat vectors = pca.eigenvectors.clone(); // components x channels
    for (int k = 0; k < vectors.rows; ++k) {
        double largest = 0;
        for (int c = 0; c < vectors.cols; ++c)
            if (std::abs(vectors.at<double>(k, c)) > std::abs(largest))
                largest = vectors.at<double>(k, c);
        if (largest < 0)
            vectors.row(k) *= -1;
    }
    double total = 0;
    cv::Mat centred = data - cv::repeat(pca.mean, data.rows, 1);
    total = cv::sum(centred.mul(centred))[0] / double(data.rows);
    const cv::Mat coordinates = centred * vectors.t(); // rows x components
    for (std::size_t r = 0; r < kept.size(); ++r) {
        projection.x[std::size_t(kept[r])] = float(coordinates.at<double>(int(r), 0));
        projection.y[std::size_t(kept[r])] = components > 1 ? float(coordinates.at<double>(int(r), 1)) : 0.0f;
    }
    for (int k = 0; k < components; ++k)
        projection.explained[k] = total > 0 ? pca.eigenvalues.at<double>(k) / total : 0.0;
    return projection;
}

std::vector<Neighbour> nearestByCosine(const Tensor& pooled, std::int64_t row, int count)
{
    checkPooled(pooled);
    const std::int64_t images = pooled.shape[0], channels = pooled.shape[1];
    if (row < 0 || row >= images)
        throw Error("image " + std::to_string(row) + " is not in the atlas (0.." + std::to_string(images - 1) + ")");
    auto norm = [&](const float* v) {
        double sum = 0;
        for (std::int64_t c = 0; c < channels; ++c)
            sum += double(v[c]) * v[c];
        return std::sqrt(sum);
    };
    const float* query = pooled.values<float>() + row * channels;
    const double queryNorm = norm(query);
    std::vector<Neighbour> all;
    if (!(queryNorm > 0) || !std::isfinite(queryNorm))
        return all;
    for (std::int64_t i = 0; i < images; ++i) {
        if (i == row)
            continue;
        const float* other = pooled.values<float>() + i * channels;
        const double otherNorm = norm(other);
        if (!(otherNorm > 0) || !std::isfinite(otherNorm))
            continue;
        double dot = 0;
        for (std::int64_t c = 0; c < channels; ++c)
            dot += double(query[c]) * other[c];
        all.push_back({i, float(dot / (queryNorm * otherNorm))});
    }
    const auto keep = std::min<std::size_t>(all.size(), std::size_t(std::max(0, count)));
    std::partial_sort(all.begin(), all.begin() + long(keep), all.end(), [](const Neighbour& a, const Neighbour& b) {
        return a.similarity != b.similarity ? a.similarity > b.similarity : a.index < b.index;
    });
    all.resize(keep);
    return all;
}

} // namespace layerscope
