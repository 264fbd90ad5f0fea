#pragma once

#include <QImage>
#include <QObject>
#include <QSize>
#include <QStringList>
#include <QThreadPool>

#include <atomic>

namespace layerscope::ui {

// A folder's images as thumbnails, off the GUI thread: a worker lists the folder, then decodes one
// image after another at thumbnail size, each reported as it comes. Every file passes the engine's
// header check (checkImageFile) before Qt's decoders see it. Loading another folder (or clear())
// drops what is left of the previous one: its remaining results never arrive.
class ThumbnailLoader : public QObject {
    Q_OBJECT

public:
    explicit ThumbnailLoader(QObject* parent = nullptr);
    ~ThumbnailLoader() override; // stops the worker after its current image

    void load(const QString& folder, const QSize& size, int limit);
    void clear();
    QString folder() const { return folder_; }

signals:
    void listed(const QStringList& files, const QString& error); // sorted, at most `limit`; error: one line
    void thumbnailReady(int index, const QImage& thumbnail, const QString& error);
    void finished();

private:
    // Runs on the GUI thread when the event loop gets to it; dropped if another load started since.
    template <typename Function> void deliver(quint64 generation, Function&& function);

    QThreadPool pool_;
    std::atomic<quint64> generation_ {0};
    QString folder_;
};

} // namespace layerscope::ui
