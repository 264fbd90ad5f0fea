#pragma once
// Pictures of the views as files, in the format their extension names (PNG, PDF or SVG), written
// under a temporary name and renamed into place when complete.

#include "layerscope/render.h"

#include <QFont>
#include <QImage>
#include <QPixmap>
#include <QString>

#include <vector>

class QCustomPlot;

class QPainter;

namespace layerscope::ui {

bool savePlot(QCustomPlot* plot, const QString& path);

// What a saved feature-map grid carries beside its tiles.
struct GridPicture {
    QImage grid;                   // the view's grid image
    GridLayout layout;             // where each tile is in it
    std::vector<int> channelOrder; // tile i shows channel channelOrder[i]; empty: i
    QString title;                 // module, shape, sample
    Colormap colormap = Colormap::Viridis;
    double low = 0, high = 0; // the values the colours stand for
    bool perChannel = false;  // each channel stretched: the bar is 0..1 of each channel's range
};

// The grid enlarged to a readable size with sharp pixels, channel numbers on the tiles, the title
// above and a colour bar with its values below. PDF and SVG keep the tiles as one embedded image.
bool saveGridPicture(const GridPicture& picture, const QString& path);

// A colour bar in `bar` (the colormap from a 256-entry table) with the range's ends written below it.
void drawColorBar(QPainter& painter, const QRect& bar, Colormap colormap, double low, double high, bool perChannel);

} // namespace layerscope::ui
