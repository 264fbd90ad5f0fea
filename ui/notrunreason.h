#pragma once

#include "layerscope/capture.h"
#include "layerscope/model.h"

#include <QString>

namespace layerscope::ui {

// Why a module has no tensor to show after a run, in one sentence for the central view: a container
// without a forward, an output that is not a tensor, or a module this forward did not reach.
QString notRunReason(const Model& model, const RunResult& run, const QString& key);

} // namespace layerscope::ui
