#pragma once
// An atlas's views as files: a capture's channel statistics and the projector's coordinates as CSV,
// a channel's images as one PNG (patches with their rank, score and file). Every file is written
// under a temporary name and renamed when complete (QSaveFile).

#include "layerscope/atlas.h"

#include <QString>

class QListWidget;

namespace layerscope::ui {

// channel, mean, std, min, max, active, nan, inf, dead: one line per channel.
bool writeChannelStatisticsCsv(const AtlasLayer& layer, const QString& path);

// file, x, y, predicted_class: one line per image, in the atlas's order.
bool writeProjectionCsv(const Atlas& atlas, const Projection& projection, const QString& path);

// The list's patches with their captions in a grid under `title`, as PNG.
bool savePatchGrid(const QListWidget& patches, const QString& title, const QString& path);

} // namespace layerscope::ui
