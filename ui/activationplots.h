#pragma once

#include "layerscope/statistics.h"
#include "layerscope/tensor.h"

#include <QWidget>

class QCustomPlot;
class QCPBars;
class QCPColorMap;
class QCPColorScale;
class QLabel;
class QMouseEvent;
class QSpinBox;

namespace layerscope::ui {

// Activations that are not feature maps: a histogram of the values (bins adjustable) above either
// the values by index (2-D: N x features) or a heat map (3-D: N x tokens x dim). The histogram alone
// serves 4-D maps and single channels.
class ActivationPlots : public QWidget {
    Q_OBJECT

public:
    explicit ActivationPlots(QWidget* parent = nullptr);

    void setActivation(const Tensor& capture, int sample); // any rank; the sample's values are shown
    void setHistogramOnly(bool histogramOnly);
    int bins() const;
    void setBins(int bins);
    const Histogram& histogram() const { return histogram_; }
    std::int64_t histogramTotal() const;
    QCustomPlot* histogramPlot() const { return histogramPlot_; }
    QCustomPlot* detailPlot() const { return detailPlot_; }
    QString cursorText() const;                           // what is under the mouse in the detail plot
    const Tensor& activation() const { return capture_; } // the whole capture, every sample

signals:
    void hovered(const QString& text);

private:
    void redraw();
    void showValueAt(QMouseEvent* event);

    Tensor capture_;
    int sample_ = 0;
    bool histogramOnly_ = false;
    Histogram histogram_;
    std::vector<double> values_; // of the sample, for the value under the cursor
    QSpinBox* binsBox_;
    QLabel* cursorLabel_;
    QCustomPlot* histogramPlot_;
    QCustomPlot* detailPlot_;
    QCPBars* bars_;
    QCPColorMap* heatMap_ = nullptr;
    QCPColorScale* colorScale_ = nullptr;
};

} // namespace layerscope::ui
