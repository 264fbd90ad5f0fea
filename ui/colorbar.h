#pragma once
// A colour bar with its low and high values, drawn into the width it is given so that the controls
// around it fit a small window. The feature-map controls and the Explain view show one.

#include "layerscope/render.h"

#include <QWidget>

namespace layerscope::ui {

class ColorBar : public QWidget {
public:
    explicit ColorBar(QWidget* parent);
    void show(Colormap colormap, double low, double high, bool perChannel);
    void clear();
    QSize sizeHint() const override;

protected:
    void paintEvent(QPaintEvent*) override;

private:
    Colormap colormap_ = Colormap::Viridis;
    double low_ = 0, high_ = 0;
    bool perChannel_ = false, shown_ = false;
};

} // namespace layerscope::ui
