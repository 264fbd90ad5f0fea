#pragma once
// One look for every QCustomPlot of the window.

#include <QPalette>

class QCustomPlot;

namespace layerscope::ui {

// Background, axes, labels and grid in the palette's colours, so that plots follow a dark system
// palette too.
void followPalette(QCustomPlot* plot, const QPalette& palette);

} // namespace layerscope::ui
