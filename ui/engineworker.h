#pragma once

#include "layerscope/extraction.h"
#include "layerscope/model.h"

#include <QObject>
#include <QStringList>

#include <atomic>
#include <memory>

namespace layerscope::ui {

// One forward on the current inputs, with every module captured, for the views.
struct RunOutcome {
    QStringList inputs;
    std::vector<Tensor> modelInputs; // as the model received them (after preprocessing)
    RunResult result;
};

// Runs the engine off the GUI thread: lives in its own QThread, one job at a time. Every job
// carries an id; the window drops results whose id is not the latest of their kind.
class EngineWorker : public QObject {
    Q_OBJECT

public:
    explicit EngineWorker(QObject* parent = nullptr);

    // Set from the GUI thread while a job runs; checked between batches.
    std::atomic<bool> cancelRequested{false};

    // Called through QMetaObject::invokeMethod, so they run in the worker's thread.
    void loadModel(quint64 job, const QString& path);
    void runInputs(quint64 job, std::shared_ptr<const Model> model, const QStringList& inputs,
                   const Preprocessing& preprocessing);
    void extract(quint64 job, std::shared_ptr<const Model> model, const ExtractionJob& extraction);

signals:
    void modelLoaded(quint64 job, std::shared_ptr<const layerscope::Model> model);
    void runFinished(quint64 job, std::shared_ptr<const layerscope::ui::RunOutcome> outcome);
    void extractionFinished(quint64 job, std::shared_ptr<const layerscope::ExtractionResult> result);
    void progress(quint64 job, qint64 done, qint64 total);
    void failed(quint64 job, const QString& message);
};

} // namespace layerscope::ui

Q_DECLARE_METATYPE(std::shared_ptr<const layerscope::Model>)
Q_DECLARE_METATYPE(std::shared_ptr<const layerscope::ui::RunOutcome>)
Q_DECLARE_METATYPE(std::shared_ptr<const layerscope::ExtractionResult>)
