#include "engineworker.h"

#include "layerscope/inputs.h"

#include "layerscope/error.h"
#include "layerscope/npy.h"
#include "layerscope/preprocessing.h"

#include <QFileInfo>
#include <QThread>

namespace layerscope::ui {

namespace {

// Runs `work` unless the job was cancelled before it started, turning every failure into the
// engine's one-line message.
template <typename Work> bool guarded(EngineWorker* worker, const JobControl& job, Work&& work)
{
    try {
        job.cancel.throwIfCancelled();
        work();
        return true;
    } catch (const Cancelled&) {
        emit worker->cancelled(job.id);
    } catch (const InputSizeError& error) {
        emit worker->inputSizeSuggested(job.id, error.channels, error.height, error.width);
        emit worker->failed(job.id, QString::fromUtf8(error.what()));
    } catch (const Error& error) {
        emit worker->failed(job.id, QString::fromUtf8(error.what()));
    } catch (const std::bad_alloc&) {
        emit worker->failed(job.id, EngineWorker::tr("out of memory"));
    } catch (const std::exception& error) {
        emit worker->failed(job.id, QString::fromUtf8(error.what()));
    }
    return false;
}

} // namespace

EngineWorker::EngineWorker(QObject* parent)
    : QObject(parent)
{
    qRegisterMetaType<std::shared_ptr<const Model>>();
    qRegisterMetaType<UntrustedModelError::Finding>();
    qRegisterMetaType<std::shared_ptr<const RunOutcome>>();
    qRegisterMetaType<std::shared_ptr<const ExtractionResult>>();
}

void EngineWorker::loadModel(const JobControl& job, const QString& path, bool trustModel)
{
    Q_ASSERT(QThread::currentThread() == thread());
    guarded(this, job, [&] {
        LoadOptions options;
        options.trustModel = trustModel;
        std::shared_ptr<const Model> model;
        try {
            model = std::make_shared<const Model>(Model::load(path.toStdString(), options));
        } catch (const UntrustedModelError& error) {
            emit untrusted(job.id, error.finding()); // the window asks the user whether to trust it
            return;
        }
        job.cancel.throwIfCancelled(); // LibTorch's load cannot be interrupted: drop what it made
        emit modelLoaded(job.id, model);
    });
}

void EngineWorker::runInputs(const JobControl& job, std::shared_ptr<const Model> model, const QStringList& inputs,
                             const Preprocessing& preprocessing, const QStringList& inputsOf)
{
    Q_ASSERT(QThread::currentThread() == thread());
    guarded(this, job, [&] {
        auto outcome = std::make_shared<RunOutcome>();
        outcome->inputs = inputs;
        std::vector<std::string> paths;
        for (const QString& input : inputs)
            paths.push_back(input.toStdString());
        outcome->modelInputs = InputSet(paths, preprocessing, false).loadForModel(*model); // as the CLI reads them
        job.cancel.throwIfCancelled();
        CaptureRequest everything; // every module: clicking any of them shows it at once
        for (const auto& m : model->modules()) {
            if (!m.name.empty() && m.hasForward && m.unavailable.empty())
                everything.outputsOf.push_back(m.name);
        }
        for (const QString& module : inputsOf)
            everything.inputsOf.push_back(module.toStdString());
        outcome->result = model->run(outcome->modelInputs, everything, &job);
        emit runFinished(job.id, outcome);
    });
}

void EngineWorker::extract(const JobControl& job, std::shared_ptr<const Model> model, const ExtractionJob& extraction)
{
    Q_ASSERT(QThread::currentThread() == thread());
    guarded(this, job, [&] {
        JobControl control = job; // the same token; progress in images, as the window shows it
        control.progress = [&](const JobProgress& p) {
            if (p.step == "images")
                emit progress(job.id, p.done, p.total);
        };
        auto result = std::make_shared<ExtractionResult>(runExtraction(*model, extraction, control));
        emit extractionFinished(job.id, result);
    });
}

} // namespace layerscope::ui
