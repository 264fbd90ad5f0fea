#include "featuremapview.h"

#include "qimages.h"

#include "layerscope/statistics.h"

#include <QGraphicsPixmapItem>
#include <QMouseEvent>
#include <QPainter>
#include <QScrollBar>
#include <QWheelEvent>

#include <cmath>

namespace layerscope::ui {

FeatureMapView::FeatureMapView(QWidget* parent)
    : QGraphicsView(parent)
{
    setScene(new QGraphicsScene(this));
    item_ = scene()->addPixmap(QPixmap());
    setDragMode(QGraphicsView::ScrollHandDrag);
    setTransformationAnchor(QGraphicsView::AnchorUnderMouse);
    setMouseTracking(true);
    setBackgroundBrush(palette().window());
    setToolTip(tr("Wheel: zoom. Drag: pan. Double-click a channel to see it in detail."));
    options_.gap = 2;
}

void FeatureMapView::setActivation(const Tensor& capture)
{
    capture_ = capture;
    sample_ = std::min<int>(sample_, capture.shape.empty() ? 0 : int(capture.shape[0]) - 1);
    userZoomed_ = false;
    redraw();
}

void FeatureMapView::setActivation(const Tensor& capture, int sample)
{
    sample_ = std::max(0, sample);
    setActivation(capture);
}

void FeatureMapView::clear()
{
    capture_ = {};
    tiles_ = 0;
    image_ = {};
    item_->setPixmap({});
}

void FeatureMapView::setSample(int sample)
{
    sample_ = std::max(0, sample);
    redraw();
}

void FeatureMapView::setColormap(Colormap colormap)
{
    options_.colormap = colormap;
    redraw();
}

void FeatureMapView::setNormalization(Normalization normalization)
{
    options_.normalization = normalization;
    redraw();
}

void FeatureMapView::setChannelOrder(ChannelOrder order)
{
    order_ = order;
    redraw();
}

void FeatureMapView::redraw()
{
    if (capture_.shape.size() != 4 || capture_.shape[0] == 0) {
        clear();
        return;
    }
    sample_ = std::min<int>(sample_, int(capture_.shape[0]) - 1);
    ++redraws_;
    options_.channelOrder = sortChannels(capture_, sample_, order_);
    const QColor gap = palette().color(QPalette::Window); // light or dark, as the system is
    options_.gapColor = {std::uint8_t(gap.red()), std::uint8_t(gap.green()), std::uint8_t(gap.blue())};
    const RgbImage grid = renderChannelGrid(capture_, sample_, options_);
    image_ = toQImage(grid);
    item_->setPixmap(QPixmap::fromImage(image_));
    scene()->setSceneRect(item_->boundingRect());
    tiles_ = int(capture_.shape[1]);
    const TensorStatistics s = computeStatistics(sampleOf(capture_, sample_));
    emit rangeChanged(s.min, s.max);
    if (!userZoomed_)
        fitToWindow();
}

QString FeatureMapView::tileLabel(int tile) const
{
    return QString::number(reportedChannel_ >= 0 ? reportedChannel_ : options_.channelOrder[std::size_t(tile)]);
}

bool FeatureMapView::tilesNumbered() const
{
    if (tiles_ == 0 || capture_.shape.size() != 4)
        return false;
    const double pixels = transform().m11() * double(capture_.shape[3]) * options_.scale;
    return pixels >= kNumberedTileWidth && options_.channelOrder.size() == std::size_t(tiles_);
}

// Channel numbers in each tile's corner, in screen pixels (they keep their size while zooming).
void FeatureMapView::drawForeground(QPainter* painter, const QRectF& rect)
{
    QGraphicsView::drawForeground(painter, rect);
    if (!tilesNumbered())
        return;
    const GridLayout layout = gridLayout(tiles_, int(capture_.shape[3]), int(capture_.shape[2]), options_);
    painter->save();
    painter->resetTransform();
    QFont font = painter->font();
    font.setPointSizeF(std::max(6.0, font.pointSizeF() * 0.8));
    painter->setFont(font);
    const QFontMetrics metrics(font);
    const QRect visible = viewport()->rect();
    for (int tile = 0; tile < tiles_; ++tile) {
        const QPointF corner((tile % layout.columns) * (layout.tileWidth + layout.gap),
                             (tile / layout.columns) * (layout.tileHeight + layout.gap));
        const QPoint at = mapFromScene(corner);
        if (!visible.contains(at + QPoint(2, 2)))
            continue;
        const QString text = tileLabel(tile);
        const QRect box(at + QPoint(1, 1), QSize(metrics.horizontalAdvance(text) + 4, metrics.height()));
        painter->fillRect(box, QColor(0, 0, 0, 150));
        painter->setPen(Qt::white);
        painter->drawText(box, Qt::AlignCenter, text);
    }
    painter->restore();
}

void FeatureMapView::setSmooth(bool smooth)
{
    item_->setTransformationMode(smooth ? Qt::SmoothTransformation : Qt::FastTransformation);
}

void FeatureMapView::fitToWindow()
{
    if (!image_.isNull())
        fitInView(item_, Qt::KeepAspectRatio);
}

void FeatureMapView::resizeEvent(QResizeEvent* event)
{
    QGraphicsView::resizeEvent(event);
    if (!userZoomed_)
        fitToWindow();
}

void FeatureMapView::wheelEvent(QWheelEvent* event)
{
    const double factor = std::pow(1.0015, event->angleDelta().y());
    scale(factor, factor);
    userZoomed_ = true;
}

int FeatureMapView::channelAt(const QPoint& viewPosition, int* x, int* y) const
{
    if (capture_.shape.size() != 4)
        return -1;
    const QPointF scenePoint = mapToScene(viewPosition);
    const GridLayout layout = gridLayout(capture_.shape[1], int(capture_.shape[3]), int(capture_.shape[2]), options_);
    const int px = int(std::floor(scenePoint.x())), py = int(std::floor(scenePoint.y()));
    const int tile = layout.tileAt(px, py);
    if (tile < 0 || tile >= tiles_)
        return -1;
    *x = (px % (layout.tileWidth + layout.gap)) / options_.scale;
    *y = (py % (layout.tileHeight + layout.gap)) / options_.scale;
    return tile < int(options_.channelOrder.size()) ? options_.channelOrder[std::size_t(tile)] : tile;
}

void FeatureMapView::mouseMoveEvent(QMouseEvent* event)
{
    QGraphicsView::mouseMoveEvent(event);
    int x = 0, y = 0;
    const int channel = channelAt(event->position().toPoint(), &x, &y);
    if (channel < 0) {
        emit hovered({});
        return;
    }
    const std::int64_t h = capture_.shape[2], w = capture_.shape[3];
    const std::int64_t offset = ((std::int64_t(sample_) * capture_.shape[1] + channel) * h + y) * w + x;
    if (offset < 0 || offset >= capture_.numel()) { // a tile of a grid drawn before the capture changed
        emit hovered({});
        return;
    }
    const double value = valueAt(capture_, offset);
    const int shown = reportedChannel_ >= 0 ? reportedChannel_ : channel;
    emit hovered(tr("channel %1, x %2, y %3: %4").arg(shown).arg(x).arg(y).arg(value, 0, 'g', 6));
}

void FeatureMapView::mouseDoubleClickEvent(QMouseEvent* event)
{
    int x = 0, y = 0;
    const int channel = channelAt(event->position().toPoint(), &x, &y);
    if (channel >= 0)
        emit channelActivated(reportedChannel_ >= 0 ? reportedChannel_ : channel);
}

} // namespace layerscope::ui
