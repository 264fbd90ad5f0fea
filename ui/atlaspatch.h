#pragma once
// The picture of one atlas entry: the part of the image (as the model saw it, after preprocessing)
// under the channel's maximum, with that cell of the capture's grid outlined.

#include "layerscope/atlas.h"
#include "layerscope/preprocessing.h"

#include <QImage>
#include <QRect>
#include <QSize>

namespace layerscope::ui {

// The region of a preprocessed input of `inputSize` under cell (y, x) of a capture grid of `gridSize`:
// three cells wide, at least a quarter of the image, centred on the cell and kept inside the image.
QRect atlasPatchRegion(QSize inputSize, QSize gridSize, int y, int x);

// Decodes and preprocesses `file` (call it off the GUI thread) and cuts the entry's patch, scaled to
// fit `side` x `side`. Maps without a position, vectors and tokens give the whole image. Throws
// layerscope::Error when the file cannot be read.
QImage atlasPatch(const std::string& file, const Preprocessing& preprocessing, const AtlasLayer& layer,
                  const AtlasEntry& entry, int side);

} // namespace layerscope::ui

namespace layerscope::ui {

// A thumbnail of `file` at most `side` pixels on its longer side, decoded at that size (call it off
// the GUI thread). Throws layerscope::Error when the file cannot be read.
QImage atlasThumbnail(const std::string& file, int side);

} // namespace layerscope::ui
