#include "plotstyle.h"

#include <qcustomplot.h>

namespace layerscope::ui {

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
    plot->legend->setBrush(palette.base());
    plot->legend->setTextColor(text);
    plot->legend->setBorderPen(QPen(palette.color(QPalette::Mid)));
}

} // namespace layerscope::ui
