#pragma once
// Browsing an atlas: for one capture, its channels ranked by activity (dead ones marked), and for
// the chosen channel the images that score highest (or lowest), each as the patch under the
// channel's maximum. Atlases and patches load off the GUI thread; a newer request drops older results.

#include "latestrequest.h"
#include "layerscope/atlas.h"
#include "layerscope/preprocessing.h"

#include <QWidget>

#include <memory>
#include <vector>

class QCheckBox;
class QComboBox;
class QCPBars;
class QCustomPlot;
class QLabel;
class QListWidget;
class QListWidgetItem;
class QSpinBox;

namespace layerscope::ui {

class AtlasView : public QWidget {
    Q_OBJECT

public:
    enum class Metric { Mean, Max, Active };

    explicit AtlasView(QWidget* parent = nullptr);

    // Reads the atlas on a worker thread; then opened() or failed(message).
    void openAtlas(const QString& path);
    void setAtlas(std::shared_ptr<const Atlas> atlas);
    const Atlas* atlas() const { return atlas_.get(); }
    std::shared_ptr<const Atlas> sharedAtlas() const { return atlas_; }

    bool selectCapture(const QString& capture); // false when the atlas has no such capture
    void selectChannel(int channel);
    void setMetric(Metric metric);
    void setBottom(bool bottom);
    // The window's model: when it is the atlas's own (same SHA-256, hashed off the GUI thread), each
    // patch shows the channel's map over it, from one forward per image.
    void setModel(std::shared_ptr<const Model> model);
    bool drawsMaps() const;                                           // the model matches and "Map" is on
    bool mapsPending() const { return model_ && modelHash_.empty(); } // its file is being hashed

    QString capture() const;
    int channel() const;
    const std::vector<int>& channelOrder() const { return order_; } // channels, best first by the metric
    QListWidget* patchList() const { return patches_; }
    QCustomPlot* strip() const { return strip_; }
    QString summary() const;

signals:
    void opened(const QString& path);
    void failed(const QString& message);
    void patchesShown(); // every patch of the chosen channel is drawn
    // Double-click on a patch: open this image with this capture and channel in the main view.
    void imageActivated(const QString& file, const QString& capture, int channel);

private:
    const AtlasLayer* layer() const;
    double metricOf(const ChannelStatistics& statistics) const;
    void showCapture();
    void drawStrip();
    void showPatches();
    void onStripClicked(QMouseEvent* event);
    void updateMapBox();

    std::shared_ptr<const Atlas> atlas_;
    Preprocessing preprocessing_;
    Metric metric_ = Metric::Max;
    std::vector<int> order_;
    int channel_ = 0;
    LatestRequest patchRequests_; // checked before each patch (and its forward) and when they arrive
    std::shared_ptr<const Model> model_;
    std::string modelHash_; // of model_'s file, once hashed

    QComboBox* captureBox_;
    QComboBox* metricBox_;
    QSpinBox* channelBox_;
    QCheckBox* bottomBox_;
    QCheckBox* mapBox_;
    QLabel* summaryLabel_;
    QCustomPlot* strip_;
    QCPBars* aliveBars_;
    QCPBars* deadBars_;
    QCPBars* chosenBar_;
    QListWidget* patches_;
};

} // namespace layerscope::ui
