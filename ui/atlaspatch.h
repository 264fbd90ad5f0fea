#pragma once
// The picture of one atlas entry: the part of the image (as the model saw it, after preprocessing)
// under the channel's maximum, with that cell of the capture's grid outlined.

#include "layerscope/atlas.h"
#include "layerscope/model.h"
#include "layerscope/preprocessing.h"

#include <QImage>
#include <QRect>
#include <QSize>

#include <memory>

namespace layerscope::ui {

// The region of a preprocessed input of `inputSize` under cell (y, x) of a capture grid of `gridSize`:
// three cells wide, at least a quarter of the image, centred on the cell and kept inside the image.
QRect atlasPatchRegion(QSize inputSize, QSize gridSize, int y, int x);

// What to draw over a patch: channel `channel` of the capture's map, from one forward of `model`
// (the atlas's own model; the atlas stores no maps) on the image.
struct PatchOverlay {
    std::shared_ptr<const Model> model; // null: no overlay
    int channel = -1;
};

// Decodes and preprocesses `file` (call it off the GUI thread) and cuts the entry's patch, scaled to
// fit `side` x `side`, with the channel's map over it when `overlay` has a model. Maps without a
// position, vectors and tokens give the whole image. Throws layerscope::Error when the file cannot be
// read (or the model cannot run it).
QImage atlasPatch(const std::string& file, const Preprocessing& preprocessing, const AtlasLayer& layer,
                  const AtlasEntry& entry, int side, const PatchOverlay& overlay = {});

// Plane `channel` of sample 0 of a [N, C, H, W] capture: [H, W].
Tensor channelPlane(const Tensor& capture, int channel);

} // namespace layerscope::ui

namespace layerscope::ui {

// A thumbnail of `file` at most `side` pixels on its longer side, decoded at that size (call it off
// the GUI thread). Throws layerscope::Error when the file cannot be read.
QImage atlasThumbnail(const std::string& file, int side);

} // namespace layerscope::ui
