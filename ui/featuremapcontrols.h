#pragma once
// The controls of a feature-map grid: colormap, normalisation, channel order and the colour bar whose
// numbers follow what the grid draws. Bound to one FeatureMapView; shown only while it shows a map.

#include <QWidget>

class QComboBox;

namespace layerscope::ui {

class ColorBar;
class FeatureMapView;

class FeatureMapControls : public QWidget {
    Q_OBJECT

public:
    explicit FeatureMapControls(FeatureMapView* view, QWidget* parent = nullptr);
    void clearColorScale(); // a new model: no colour bar of the previous one

private:
    void updateColorScale(double low, double high);

    FeatureMapView* view_;
    QComboBox* colormapBox_;
    QComboBox* normalizationBox_;
    QComboBox* orderBox_;
    ColorBar* colorScale_;
};

} // namespace layerscope::ui
