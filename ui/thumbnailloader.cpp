#include "thumbnailloader.h"

#include "layerscope/error.h"
#include "layerscope/preprocessing.h"

#include <QImageReader>
#include <QThread>

namespace layerscope::ui {

ThumbnailLoader::ThumbnailLoader(QObject* parent)
    : QObject(parent)
{
    pool_.setMaxThreadCount(1); // one folder at a time, images in order
}

ThumbnailLoader::~ThumbnailLoader()
{
    ++generation_;
    pool_.waitForDone();
}

template <typename Function> void ThumbnailLoader::deliver(quint64 generation, Function&& function)
{
    QMetaObject::invokeMethod(
        this,
        [this, generation, function = std::forward<Function>(function)] {
            if (generation == generation_)
                function();
        },
        Qt::QueuedConnection);
}

void ThumbnailLoader::clear()
{
    ++generation_;
    folder_.clear();
}

void ThumbnailLoader::load(const QString& folder, const QSize& size, int limit)
{
    Q_ASSERT(QThread::currentThread() == thread());
    const quint64 generation = ++generation_;
    folder_ = folder;
    pool_.start([this, generation, folder, size, limit] {
        QStringList files;
        QString error;
        try {
            for (const std::string& file : listImages(folder.toStdString(), false)) {
                if (files.size() >= limit)
                    break;
                files << QString::fromStdString(file);
            }
        } catch (const std::exception& e) {
            error = QString::fromUtf8(e.what());
        }
        deliver(generation, [this, files, error] { emit listed(files, error); });
        for (int i = 0; i < files.size() && generation == generation_; ++i) {
            QImage thumbnail;
            QString problem;
            try {
                // The check loadImage makes, before Qt's decoders see the file: a crafted file (a
                // gigapixel header, a FIFO, a format LayerScope does not read) gets no thumbnail.
                checkImageFile(files[i].toStdString());
                QImageReader reader(files[i]);
                reader.setDecideFormatFromContent(true); // the format the check saw, whatever the name says
                const QSize full = reader.size();
                if (full.isValid() && (full.width() > size.width() || full.height() > size.height())) // decode small
                    reader.setScaledSize(full.scaled(size, Qt::KeepAspectRatio).expandedTo(QSize(1, 1)));
                thumbnail = reader.read();
                if (thumbnail.isNull())
                    problem = files[i] + ": " + reader.errorString();
            } catch (const std::exception& e) {
                problem = QString::fromUtf8(e.what());
            }
            deliver(generation, [this, i, thumbnail, problem] { emit thumbnailReady(i, thumbnail, problem); });
        }
        deliver(generation, [this] { emit finished(); });
    });
}

} // namespace layerscope::ui
