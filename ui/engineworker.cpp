#include "engineworker.h"

#include "layerscope/error.h"
#include "layerscope/npy.h"
#include "layerscope/preprocessing.h"

#include <QFileInfo>
#include <QThread>

namespace layerscope::ui {

namespace {

// Runs `work`, turning every failure into the engine's one-line message.
template <typename Work> bool guarded(EngineWorker* worker, quint64 job, Work&& work)
{
    try {
        work();
        return true;
    } catch (const Error& error) {
        emit worker->failed(job, QString::fromUtf8(error.what()));
    } catch (const std::bad_alloc&) {
        emit worker->failed(job, EngineWorker::tr("out of memory"));
    } catch (const std::exception& error) {
        emit worker->failed(job, QString::fromUtf8(error.what()));
    }
    return false;
}

} // namespace

EngineWorker::EngineWorker(QObject* parent)
    : QObject(parent)
{
    qRegisterMetaType<std::shared_ptr<const Model>>();
    qRegisterMetaType<std::shared_ptr<const RunOutcome>>();
    qRegisterMetaType<std::shared_ptr<const ExtractionResult>>();
}

void EngineWorker::loadModel(quint64 job, const QString& path)
{
    Q_ASSERT(QThread::currentThread() == thread());
    guarded(this, job, [&] {
        auto model = std::make_shared<const Model>(Model::load(path.toStdString()));
        emit modelLoaded(job, model);
    });
}

void EngineWorker::runInputs(quint64 job, std::shared_ptr<const Model> model, const QStringList& inputs,
                             const Preprocessing& preprocessing)
{
    Q_ASSERT(QThread::currentThread() == thread());
    guarded(this, job, [&] {
        auto outcome = std::make_shared<RunOutcome>();
        outcome->inputs = inputs;
        for (const auto& input : inputs) {
            const std::string path = input.toStdString();
            Tensor tensor;
            if (QFileInfo(input).suffix().compare("npy", Qt::CaseInsensitive) == 0) {
                tensor = readNpy(path);
                const bool floating = tensor.dtype == DType::Float32 || tensor.dtype == DType::Float64;
                if (floating && tensor.dtype != model->parameterDType())
                    tensor = convertFloating(tensor, model->parameterDType());
            } else {
                tensor = loadImage(path, preprocessing);
                tensor.shape.insert(tensor.shape.begin(), 1); // a batch of one
            }
            outcome->modelInputs.push_back(tensor);
        }
        CaptureRequest everything; // every module: clicking any of them shows it at once
        for (const auto& m : model->modules()) {
            if (!m.name.empty() && m.hasForward)
                everything.outputsOf.push_back(m.name);
        }
        outcome->result = model->run(outcome->modelInputs, everything);
        emit runFinished(job, outcome);
    });
}

void EngineWorker::extract(quint64 job, std::shared_ptr<const Model> model, const ExtractionJob& extraction)
{
    Q_ASSERT(QThread::currentThread() == thread());
    cancelRequested = false;
    guarded(this, job, [&] {
        auto result = std::make_shared<ExtractionResult>(
            runExtraction(*model, extraction, [&](const ExtractionProgress& p) {
                emit progress(job, p.done, p.total);
                return !cancelRequested.load();
            }));
        emit extractionFinished(job, result);
    });
}

} // namespace layerscope::ui
