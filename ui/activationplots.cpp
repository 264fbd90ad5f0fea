#include "activationplots.h"

#include <qcustomplot.h>

#include <QHBoxLayout>
#include <QLabel>
#include <QSpinBox>
#include <QVBoxLayout>

namespace layerscope::ui {

namespace {

// Plots in the window's colours, so that they follow a dark system palette too.
void followPalette(QCustomPlot* plot, const QPalette& palette)
{
    plot->setBackground(palette.base());
    const QColor text = palette.color(QPalette::Text);
    for (QCPAxis* axis : {plot->xAxis, plot->yAxis, plot->xAxis2, plot->yAxis2}) {
        axis->setBasePen(QPen(text));
        axis->setTickPen(QPen(text));
        axis->setSubTickPen(QPen(text));
        axis->setLabelColor(text);
        axis->setTickLabelColor(text);
        axis->grid()->setPen(QPen(palette.color(QPalette::Mid), 0, Qt::DotLine));
    }
}

} // namespace

ActivationPlots::ActivationPlots(QWidget* parent)
    : QWidget(parent)
    , binsBox_(new QSpinBox(this))
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
    connect(binsBox_, &QSpinBox::valueChanged, this, &ActivationPlots::redraw);
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
    histogramPlot_->rescaleAxes();
    histogramPlot_->yAxis->setRangeLower(0);
    histogramPlot_->replot(QCustomPlot::rpQueuedReplot);

    if (histogramOnly_)
        return;
    detailPlot_->clearPlottables();
    if (colorScale_) {
        detailPlot_->plotLayout()->remove(colorScale_);
        colorScale_ = nullptr;
    }
    heatMap_ = nullptr;
    const std::vector<double> data = valuesAsDoubles(values);
    if (capture_.shape.size() == 3) { // tokens x dim as a heat map
        const int tokens = int(capture_.shape[1]), dim = int(capture_.shape[2]);
        heatMap_ = new QCPColorMap(detailPlot_->xAxis, detailPlot_->yAxis);
        heatMap_->data()->setSize(dim, tokens);
        heatMap_->data()->setRange(QCPRange(0, dim - 1), QCPRange(0, tokens - 1));
        for (int t = 0; t < tokens; ++t) {
            for (int d = 0; d < dim; ++d)
                heatMap_->data()->setCell(d, t, data[std::size_t(t) * std::size_t(dim) + std::size_t(d)]);
        }
        colorScale_ = new QCPColorScale(detailPlot_);
        detailPlot_->plotLayout()->addElement(0, 1, colorScale_);
        heatMap_->setColorScale(colorScale_);
        heatMap_->setGradient(QCPColorGradient::gpPolar);
        heatMap_->rescaleDataRange();
        auto* margins = new QCPMarginGroup(detailPlot_);
        detailPlot_->axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
        colorScale_->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
        detailPlot_->xAxis->setLabel(tr("feature"));
        detailPlot_->yAxis->setLabel(tr("token"));
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
    }
    detailPlot_->rescaleAxes();
    detailPlot_->replot(QCustomPlot::rpQueuedReplot);
}

} // namespace layerscope::ui
