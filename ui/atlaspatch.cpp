#include "atlaspatch.h"

#include "layerscope/error.h"
#include "qimages.h"

#include <QPainter>

#include <algorithm>
#include <cmath>

namespace layerscope::ui {

QRect atlasPatchRegion(QSize inputSize, QSize gridSize, int y, int x)
{
    const double cellW = double(inputSize.width()) / std::max(1, gridSize.width());
    const double cellH = double(inputSize.height()) / std::max(1, gridSize.height());
    const int shorter = std::min(inputSize.width(), inputSize.height());
    const int side = std::clamp(int(std::lround(3 * std::max(cellW, cellH))), std::max(1, shorter / 4), shorter);
    const double cx = (x + 0.5) * cellW, cy = (y + 0.5) * cellH;
    const int left = std::clamp(int(std::lround(cx - side / 2.0)), 0, inputSize.width() - side);
    const int top = std::clamp(int(std::lround(cy - side / 2.0)), 0, inputSize.height() - side);
    return QRect(left, top, side, side);
}

Tensor channelPlane(const Tensor& capture, int channel)
{
    const auto& s = capture.shape;
    if (s.size() != 4 || channel < 0 || channel >= s[1])
        throw Error("no channel " + std::to_string(channel) + " in a capture of " + shapeToString(s));
    const Tensor values = convertFloating(capture, DType::Float32);
    Tensor plane = Tensor::zeros({s[2], s[3]}, DType::Float32);
    std::copy_n(values.values<float>() + channel * s[2] * s[3], s[2] * s[3], static_cast<float*>(plane.mutableData()));
    return plane;
}

namespace {

// The input as the model saw it, with the channel's map over it (one forward, this capture only).
QImage withChannelMap(const Tensor& image, const std::string& file, const AtlasLayer& layer,
                      const PatchOverlay& overlay)
{
    Tensor batch = image;
    batch.shape.insert(batch.shape.begin(), 1);
    CaptureRequest request;
    addCaptureKey(layer.capture, request);
    const RunResult run = overlay.model->run({prepareArrayInput(*overlay.model, batch, file)}, request);
    for (const auto* list : {&run.captures, &run.outputs})
        for (const Capture& capture : *list)
            if (capture.key == layer.capture)
                return toQImage(
                    renderOverlay(image, channelPlane(capture.tensor, overlay.channel), Colormap::Jet, 0.45));
    throw Error(file + ": the model recorded no '" + layer.capture + "'");
}

} // namespace

QImage atlasPatch(const std::string& file, const Preprocessing& preprocessing, const AtlasLayer& layer,
                  const AtlasEntry& entry, int side, const PatchOverlay& overlay)
{
    const Tensor image = loadImage(file, preprocessing);
    const bool mapped = overlay.model && layer.kind == AtlasCaptureKind::Map && layer.sampleShape.size() == 3;
    const QImage input = mapped ? withChannelMap(image, file, layer, overlay) : tensorToImage(image);
    if (layer.kind != AtlasCaptureKind::Map || entry.y < 0 || layer.sampleShape.size() != 3)
        return input.scaled(side, side, Qt::KeepAspectRatio, Qt::SmoothTransformation);
    const QSize grid(int(layer.sampleShape[2]), int(layer.sampleShape[1]));
    const QRect region = atlasPatchRegion(input.size(), grid, entry.y, entry.x);
    QImage patch = input.copy(region)
                       .scaled(side, side, Qt::KeepAspectRatio, Qt::SmoothTransformation)
                       .convertToFormat(QImage::Format_RGB32);
    // The cell of the maximum, outlined.
    const double scale = double(patch.width()) / region.width();
    const double cellW = double(input.width()) / grid.width(), cellH = double(input.height()) / grid.height();
    const QRectF cell((entry.x * cellW - region.left()) * scale, (entry.y * cellH - region.top()) * scale,
                      cellW * scale, cellH * scale);
    QPainter painter(&patch);
    painter.setPen(QPen(QColor(255, 200, 0), 2));
    painter.drawRect(cell.adjusted(1, 1, -1, -1));
    return patch;
}

} // namespace layerscope::ui

#include <QImageReader>

namespace layerscope::ui {

QImage atlasThumbnail(const std::string& file, int side)
{
    checkImageFile(file); // the header's size is checked before a decoder sees the file
    QImageReader reader(QString::fromStdString(file));
    reader.setAutoTransform(true);
    const QSize size = reader.size();
    if (size.isValid())
        reader.setScaledSize(size.scaled(side, side, Qt::KeepAspectRatio));
    QImage image = reader.read();
    if (image.isNull())
        throw Error(file + ": " + reader.errorString().toStdString());
    return image;
}

} // namespace layerscope::ui
