#pragma once
// The atlas's projector: every image as a point, at its pooled vector's first two principal
// components, coloured by subfolder (the usual class-per-folder layout), by predicted class or by
// one channel's pooled value. Hover names the image; a click shows its nearest neighbours by cosine
// similarity; a dragged rectangle shows the images inside it. Projections and thumbnails are
// computed off the GUI thread.

#include "latestrequest.h"
#include "layerscope/atlas.h"

#include <QWidget>

#include <memory>
#include <vector>

class QComboBox;
class QCustomPlot;
class QLabel;
class QListWidget;
class QSpinBox;

namespace layerscope::ui {

class AtlasProjector : public QWidget {
    Q_OBJECT

public:
    enum class Colouring { Subfolder, PredictedClass, Channel };

    explicit AtlasProjector(QWidget* parent = nullptr);

    void setAtlas(std::shared_ptr<const Atlas> atlas);
    bool selectCapture(const QString& capture);
    void setColouring(Colouring colouring, int channel = 0);
    // Shows the image's nearest neighbours in the strip (what a click on its point does).
    void showNeighbours(std::int64_t image);
    // Shows the images whose points lie inside the rectangle, in plot coordinates.
    void selectInside(const QRectF& area);

    const Projection& projection() const { return projection_; }
    QCustomPlot* plot() const { return plot_; }
    QListWidget* strip() const { return strip_; }
    int groupCount() const; // colour groups drawn (subfolders, classes or value bins)
    const QLabel* hoverPreview() const { return hoverPreview_; }
    // The image whose point is nearest to a pixel of the plot, within `radius` pixels, or -1.
    std::int64_t imageAt(const QPointF& pixel, double radius = 8) const;

signals:
    void projected();  // the points are drawn
    void stripShown(); // the strip's thumbnails are drawn
    void hoverShown(); // the hovered image's thumbnail is drawn
    void imageActivated(const QString& file);

private:
    void project();
    void draw();
    void fillStrip(const std::vector<std::int64_t>& images, const std::vector<QString>& captions);
    void showHovered(std::int64_t image); // its thumbnail beside the plot, decoded off the GUI thread

    std::shared_ptr<const Atlas> atlas_;
    Projection projection_;
    std::vector<float> channelValues_;
    Tensor pooled_;
    Colouring colouring_ = Colouring::Subfolder;
    int channel_ = 0;
    LatestRequest projections_;
    quint64 stripGeneration_ = 0, hoverGeneration_ = 0;
    std::int64_t hovered_ = -1;
    QPointF pressedAt_;

    QComboBox* captureBox_;
    QComboBox* colourBox_;
    QSpinBox* channelBox_;
    QLabel* caption_;
    QLabel* hoverPreview_;
    QCustomPlot* plot_;
    QListWidget* strip_;
};

// The folder an image sits in, relative to the input it came from: "" at the top level.
QString subfolderOf(const QString& file, const std::vector<std::string>& inputs);

} // namespace layerscope::ui
