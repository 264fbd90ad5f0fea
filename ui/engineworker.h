#pragma once

#include "layerscope/error.h"
#include "layerscope/extraction.h"
#include "layerscope/job.h"
#include "layerscope/model.h"

#include <QObject>
#include <QStringList>

#include <memory>

namespace layerscope::ui {

// One forward on the current inputs, with every module captured, for the views.
struct RunOutcome {
    QStringList inputs;
    std::vector<Tensor> modelInputs; // as the model received them (after preprocessing)
    RunResult result;
};

// Runs the engine off the GUI thread: lives in its own QThread, one job at a time. Every job
// carries its id and its own cancel token (JobTracker); a job whose token is cancelled before it
// starts does nothing, a forward stops at its next module, an export after its current batch.
// Each job ends with exactly one of its result signals, failed() or cancelled().
class EngineWorker : public QObject {
    Q_OBJECT

public:
    explicit EngineWorker(QObject* parent = nullptr);

    // Called through QMetaObject::invokeMethod, so they run in the worker's thread.
    // Unless `trustModel`, a model whose code reaches outside it ends the job with untrusted().
    void loadModel(const JobControl& job, const QString& path, bool trustModel = false);
    // Records every module's output, and the inputs of `inputsOf` (asked for one by one: they would
    // double the memory of a run).
    void runInputs(const JobControl& job, std::shared_ptr<const Model> model, const QStringList& inputs,
                   const Preprocessing& preprocessing, const QStringList& inputsOf = {});
    void extract(const JobControl& job, std::shared_ptr<const Model> model, const ExtractionJob& extraction);

signals:
    void modelLoaded(quint64 job, std::shared_ptr<const layerscope::Model> model);
    void untrusted(quint64 job, const layerscope::UntrustedModelError::Finding& finding); // nothing of it ran
    void runFinished(quint64 job, std::shared_ptr<const layerscope::ui::RunOutcome> outcome);
    void extractionFinished(quint64 job, std::shared_ptr<const layerscope::ExtractionResult> result);
    void progress(quint64 job, qint64 done, qint64 total);
    void failed(quint64 job, const QString& message);
    // Before failed(), when the model told the image size it takes (InputSizeError).
    void inputSizeSuggested(quint64 job, int channels, int height, int width);
    void cancelled(quint64 job);
};

} // namespace layerscope::ui

Q_DECLARE_METATYPE(std::shared_ptr<const layerscope::Model>)
Q_DECLARE_METATYPE(layerscope::UntrustedModelError::Finding)
Q_DECLARE_METATYPE(std::shared_ptr<const layerscope::ui::RunOutcome>)
Q_DECLARE_METATYPE(std::shared_ptr<const layerscope::ExtractionResult>)
