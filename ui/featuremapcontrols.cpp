#include "featuremapcontrols.h"

#include "colorbar.h"
#include "featuremapview.h"
#include "viewexport.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QPainter>

namespace layerscope::ui {

FeatureMapControls::FeatureMapControls(FeatureMapView* view, QWidget* parent)
    : QWidget(parent)
    , view_(view)
    , colormapBox_(new QComboBox(this))
    , normalizationBox_(new QComboBox(this))
    , orderBox_(new QComboBox(this))
    , colorScale_(new ColorBar(this))
{
    for (const auto& name : colormapNames())
        colormapBox_->addItem(QString::fromStdString(name));
    colormapBox_->setObjectName("colormap");
    colormapBox_->setToolTip(tr("Colormap; 'diverging' centres zero for signed values"));
    normalizationBox_->addItems({tr("per channel"), tr("layer-wide")});
    normalizationBox_->setObjectName("normalization");
    normalizationBox_->setToolTip(tr("Stretch each channel's own range, or one range for the whole layer"));
    orderBox_->addItems({tr("channel order"), tr("by mean"), tr("by max"), tr("by std"), tr("by zeros")});
    orderBox_->setObjectName("channelOrder");
    orderBox_->setToolTip(tr("Sort the channels, largest first"));
    colorScale_->setObjectName("colorScale");
    colorScale_->setToolTip(tr("What the colours stand for in the grid"));

    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(colormapBox_);
    layout->addWidget(normalizationBox_);
    layout->addWidget(orderBox_);
    layout->addWidget(colorScale_, 1);

    connect(colormapBox_, &QComboBox::currentIndexChanged, view_,
            [this](int index) { view_->setColormap(static_cast<Colormap>(index)); });
    connect(normalizationBox_, &QComboBox::currentIndexChanged, view_,
            [this](int index) { view_->setNormalization(static_cast<Normalization>(index)); });
    connect(orderBox_, &QComboBox::currentIndexChanged, view_,
            [this](int index) { view_->setChannelOrder(static_cast<ChannelOrder>(index)); });
    connect(view_, &FeatureMapView::rangeChanged, this, &FeatureMapControls::updateColorScale);
}

void FeatureMapControls::clearColorScale() { colorScale_->clear(); }

void FeatureMapControls::updateColorScale(double low, double high)
{
    const GridOptions& options = view_->gridOptions();
    colorScale_->show(options.colormap, low, high, options.normalization == Normalization::PerChannel);
}

} // namespace layerscope::ui
