#include "activationplots.h"

#include "plotstyle.h"

#include <qcustomplot.h>

#include <QHBoxLayout>
#include <QLabel>
#include <QSpinBox>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace layerscope::ui {

namespace {

// Token, feature and index axes count whole things: ticks on integers only.
QSharedPointer<QCPAxisTicker> integerTicker()
{
    auto ticker = QSharedPointer<QCPAxisTickerFixed>::create();
    ticker->setTickStep(1.0);
    ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
    return ticker;
}

} // namespace

ActivationPlots::ActivationPlots(QWidget* parent)
    : QWidget(parent)
    , binsBox_(new QSpinBox(this))
    , cursorLabel_(new QLabel(this))
    , histogramPlot_(new QCustomPlot(this))
    , detailPlot_(new QCustomPlot(this))
{
    binsBox_->setRange(2, 1000);
    binsBox_->setValue(64);
    binsBox_->setToolTip(tr("Number of histogram bins"));
    auto* header = new QHBoxLayout;
    header->addWidget(new QLabel(tr("Histogram bins:"), this));
    header->addWidget(binsBox_);
    header->addStretch();
    header->addWidget(cursorLabel_);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(header);
    layout->addWidget(histogramPlot_, 1);
    layout->addWidget(detailPlot_, 1);

    bars_ = new QCPBars(histogramPlot_->xAxis, histogramPlot_->yAxis);
    bars_->setPen(Qt::NoPen);
    bars_->setBrush(palette().highlight());
    histogramPlot_->xAxis->setLabel(tr("value"));
    histogramPlot_->yAxis->setLabel(tr("count"));
    histogramPlot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    followPalette(histogramPlot_, palette());
    followPalette(detailPlot_, palette());
    detailPlot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    detailPlot_->setMouseTracking(true);
    connect(binsBox_, &QSpinBox::valueChanged, this, &ActivationPlots::redraw);
    connect(detailPlot_, &QCustomPlot::mouseMove, this, &ActivationPlots::showValueAt);
    connect(this, &ActivationPlots::hovered, cursorLabel_, &QLabel::setText);
}

QString ActivationPlots::cursorText() const { return cursorLabel_->text(); }

void ActivationPlots::showValueAt(QMouseEvent* event)
{
    const double x = detailPlot_->xAxis->pixelToCoord(event->position().x());
    const double y = detailPlot_->yAxis->pixelToCoord(event->position().y());
    const long column = std::lround(x), row = std::lround(y);
    QString text;
    if (capture_.shape.size() == 3) {
        const long tokens = long(capture_.shape[1]), dim = long(capture_.shape[2]);
        if (column >= 0 && column < dim && row >= 0 && row < tokens)
            text = tr("token %1, feature %2: %3")
                       .arg(row)
                       .arg(column)
                       .arg(values_[std::size_t(row * dim + column)], 0, 'g', 6);
    } else if (column >= 0 && column < long(values_.size())) {
        text = tr("index %1: %2").arg(column).arg(values_[std::size_t(column)], 0, 'g', 6);
    }
    emit hovered(text);
}

int ActivationPlots::bins() const { return binsBox_->value(); }
void ActivationPlots::setBins(int bins) { binsBox_->setValue(bins); }

void ActivationPlots::setHistogramOnly(bool histogramOnly)
{
    histogramOnly_ = histogramOnly;
    detailPlot_->setVisible(!histogramOnly);
}

void ActivationPlots::setActivation(const Tensor& capture, int sample)
{
    capture_ = capture;
    sample_ = sample;
    redraw();
}

std::int64_t ActivationPlots::histogramTotal() const
{
    std::int64_t total = 0;
    for (auto count : histogram_.counts)
        total += count;
    return total;
}

void ActivationPlots::redraw()
{
    if (capture_.shape.empty())
        return;
    const Tensor values = capture_.shape[0] > sample_ ? sampleOf(capture_, sample_) : capture_;
    histogram_ = computeHistogram(values, bins());
    QVector<double> centers, counts;
    for (std::size_t i = 0; i < histogram_.counts.size(); ++i) {
        centers << histogram_.low + (double(i) + 0.5) * histogram_.binWidth();
        counts << double(histogram_.counts[i]);
    }
    bars_->setWidth(histogram_.binWidth());
    bars_->setData(centers, counts, true);
    // Whole bars: rescaleAxes() would cut the outer bars in half and touch the tallest one.
    const double margin = std::max(histogram_.binWidth(), 1e-12);
    histogramPlot_->xAxis->setRange(histogram_.low - margin, histogram_.high + margin);
    const double tallest = counts.isEmpty() ? 1 : *std::max_element(counts.begin(), counts.end());
    histogramPlot_->yAxis->setRange(0, std::max(1.0, tallest * 1.05));
    histogramPlot_->replot(QCustomPlot::rpQueuedReplot);

    if (histogramOnly_)
        return;
    detailPlot_->clearPlottables();
    if (colorScale_) {
        detailPlot_->plotLayout()->remove(colorScale_);
        colorScale_ = nullptr;
    }
    heatMap_ = nullptr;
    values_ = valuesAsDoubles(values);
    const std::vector<double>& data = values_;
    if (capture_.shape.size() == 3) { // tokens x dim as a heat map
        const int tokens = int(capture_.shape[1]), dim = int(capture_.shape[2]);
        heatMap_ = new QCPColorMap(detailPlot_->xAxis, detailPlot_->yAxis);
        heatMap_->data()->setSize(dim, tokens);
        heatMap_->data()->setRange(QCPRange(0, dim - 1), QCPRange(0, tokens - 1));
        for (int t = 0; t < tokens; ++t) {
            for (int d = 0; d < dim; ++d)
                heatMap_->data()->setCell(d, t, data[std::size_t(t) * std::size_t(dim) + std::size_t(d)]);
        }
        heatMap_->setInterpolate(false); // one cell a value: interpolation would invent values
        colorScale_ = new QCPColorScale(detailPlot_);
        detailPlot_->plotLayout()->addElement(0, 1, colorScale_);
        colorScale_->axis()->setLabel(tr("value"));
        colorScale_->axis()->setTickLabelColor(palette().color(QPalette::Text));
        colorScale_->axis()->setLabelColor(palette().color(QPalette::Text));
        heatMap_->setColorScale(colorScale_);
        heatMap_->setGradient(QCPColorGradient::gpPolar);
        heatMap_->rescaleDataRange();
        auto* margins = new QCPMarginGroup(detailPlot_);
        detailPlot_->axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
        colorScale_->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
        detailPlot_->xAxis->setLabel(tr("feature"));
        detailPlot_->yAxis->setLabel(tr("token"));
        detailPlot_->xAxis->setTicker(integerTicker());
        detailPlot_->yAxis->setTicker(integerTicker());
    } else { // the values by index
        auto* graph = detailPlot_->addGraph();
        QVector<double> x, y;
        for (std::size_t i = 0; i < data.size(); ++i) {
            x << double(i);
            y << data[i];
        }
        graph->setData(x, y, true);
        graph->setLineStyle(data.size() > 256 ? QCPGraph::lsLine : QCPGraph::lsImpulse);
        detailPlot_->xAxis->setLabel(tr("index"));
        detailPlot_->yAxis->setLabel(tr("value"));
        detailPlot_->xAxis->setTicker(integerTicker());
        detailPlot_->yAxis->setTicker(QSharedPointer<QCPAxisTicker>::create());
    }
    detailPlot_->rescaleAxes();
    if (heatMap_) { // whole cells at the edges
        detailPlot_->xAxis->setRange(-0.5, double(capture_.shape[2]) - 0.5);
        detailPlot_->yAxis->setRange(-0.5, double(capture_.shape[1]) - 0.5);
    }
    detailPlot_->replot(QCustomPlot::rpQueuedReplot);
}

} // namespace layerscope::ui
