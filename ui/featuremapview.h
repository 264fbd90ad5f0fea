#pragma once

#include "layerscope/render.h"
#include "layerscope/tensor.h"

#include <QGraphicsView>

class QGraphicsPixmapItem;

namespace layerscope::ui {

// A 4-D activation as a grid of its channels: zoom with the wheel, pan by dragging, hover for
// channel, position and value, double-click a tile for that channel in detail.
class FeatureMapView : public QGraphicsView {
    Q_OBJECT

public:
    explicit FeatureMapView(QWidget* parent = nullptr);

    void setActivation(const Tensor& capture);             // [N, C, H, W]
    void setActivation(const Tensor& capture, int sample); // both, drawn once (a click)
    int redraws() const { return redraws_; }               // grids drawn so far
    void clear();
    void setSample(int sample);
    void setColormap(Colormap colormap);
    void setNormalization(Normalization normalization);
    void setChannelOrder(ChannelOrder order);
    // Nearest-neighbour pixels (default: every value stays a sharp square) or bilinear smoothing.
    void setSmooth(bool smooth);
    // For a view of one channel cut out of a layer: the channel number that hovering reports.
    void setReportedChannel(int channel) { reportedChannel_ = channel; }

    int tileCount() const { return tiles_; }
    // Channel numbers are drawn on the tiles once a tile is this many screen pixels wide.
    static constexpr int kNumberedTileWidth = 28;
    bool tilesNumbered() const;        // at the current zoom
    QString tileLabel(int tile) const; // the channel number drawn on a tile
    int sample() const { return sample_; }
    const GridOptions& gridOptions() const { return options_; }
    const QImage& gridImage() const { return image_; }
    const Tensor& activation() const { return capture_; }
    void fitToWindow();

signals:
    void hovered(const QString& text);
    void channelActivated(int channel);
    // The value range the colours stand for (layer-wide, or the whole layer's range when per channel).
    void rangeChanged(double low, double high);

protected:
    void wheelEvent(QWheelEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void mouseDoubleClickEvent(QMouseEvent* event) override;
    void resizeEvent(QResizeEvent* event) override;
    void drawForeground(QPainter* painter, const QRectF& rect) override;

private:
    void redraw();
    int redraws_ = 0;
    int channelAt(const QPoint& viewPosition, int* x, int* y) const;

    Tensor capture_;
    int sample_ = 0;
    int tiles_ = 0;
    ChannelOrder order_ = ChannelOrder::Index;
    GridOptions options_;
    QImage image_;
    QGraphicsPixmapItem* item_ = nullptr;
    bool userZoomed_ = false; // until the wheel zooms, the grid follows the window's size
    int reportedChannel_ = -1;
};

} // namespace layerscope::ui
