#include "colorbar.h"

#include "viewexport.h"

#include <QPainter>

namespace layerscope::ui {

ColorBar::ColorBar(QWidget* parent)
    : QWidget(parent)
{
    setMinimumWidth(120);
    setSizePolicy(QSizePolicy::Preferred, QSizePolicy::Fixed);
}

void ColorBar::show(Colormap colormap, double low, double high, bool perChannel)
{
    colormap_ = colormap, low_ = low, high_ = high, perChannel_ = perChannel, shown_ = true;
    update();
}

void ColorBar::clear()
{
    shown_ = false;
    update();
}

QSize ColorBar::sizeHint() const { return {260, 18 + fontMetrics().height()}; }

void ColorBar::paintEvent(QPaintEvent*)
{
    if (!shown_)
        return;
    QPainter painter(this);
    painter.setPen(palette().color(QPalette::WindowText));
    drawColorBar(painter, QRect(2, 2, width() - 4, 14), colormap_, low_, high_, perChannel_);
}

} // namespace layerscope::ui
