#include "atlasprojector.h"

#include "atlaspatch.h"
#include "layerscope/render.h"

#include "plotstyle.h"

#include <qcustomplot.h>

#include <QComboBox>
#include <QDir>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QPointer>
#include <QSpinBox>
#include <QThreadPool>
#include <QToolTip>
#include <QVBoxLayout>

#include <cmath>
#include <map>

namespace layerscope::ui {

namespace {

constexpr int kThumbnailSide = 80;
constexpr int kNeighbours = 12;
constexpr int kValueBins = 8;

QColor categoryColour(int index, int count)
{
    return QColor::fromHsv((index * 360 / std::max(1, count) + 200) % 360, 200, 220);
}

} // namespace

QString subfolderOf(const QString& file, const std::vector<std::string>& inputs)
{
    const QString clean = QDir::cleanPath(file);
    for (const std::string& input : inputs) {
        const QString root = QDir::cleanPath(QString::fromStdString(input));
        if (clean.startsWith(root + "/")) {
            const QString inside = QFileInfo(clean.mid(root.size() + 1)).path();
            return inside == "." ? QString() : inside;
        }
    }
    return QFileInfo(clean).dir().dirName();
}

AtlasProjector::AtlasProjector(QWidget* parent)
    : QWidget(parent)
    , captureBox_(new QComboBox(this))
    , colourBox_(new QComboBox(this))
    , channelBox_(new QSpinBox(this))
    , caption_(new QLabel(this))
    , hoverPreview_(new QLabel(this))
    , plot_(new QCustomPlot(this))
    , strip_(new QListWidget(this))
{
    captureBox_->setToolTip(tr("Whose pooled vectors (spatial mean per channel) are projected"));
    colourBox_->addItems({tr("Colour by subfolder"), tr("Colour by predicted class"), tr("Colour by channel")});
    colourBox_->setToolTip(tr("Subfolders are the usual one-folder-per-class layout"));
    channelBox_->setPrefix(tr("channel "));
    channelBox_->setKeyboardTracking(false);
    channelBox_->setToolTip(tr("Colour each image by this channel's pooled value (its mean over the map)"));
    caption_->setWordWrap(true);
    plot_->setMinimumHeight(140);
    plot_->setInteractions(QCP::iRangeZoom);
    plot_->setSelectionRectMode(QCP::srmCustom);
    plot_->setToolTip(tr("Each point an image. Click a point to open it and see its nearest neighbours; drag a "
                         "rectangle to see a group"));
    plot_->xAxis->setLabel(tr("first principal component"));
    followPalette(plot_, palette());
    plot_->yAxis->setLabel(tr("second principal component"));
    strip_->setViewMode(QListView::IconMode);
    strip_->setFlow(QListView::LeftToRight);
    strip_->setWrapping(true);
    strip_->setResizeMode(QListView::Adjust);
    strip_->setIconSize(QSize(kThumbnailSide, kThumbnailSide));
    // One cell per image whatever its aspect ratio: thumbnails arriving later never overlap.
    strip_->setGridSize(QSize(kThumbnailSide + 12, kThumbnailSide + 2 * strip_->fontMetrics().height() + 8));
    strip_->setMaximumHeight(2 * kThumbnailSide + 60);
    strip_->setToolTip(tr("Double-click to open the image"));

    auto* controls = new QHBoxLayout;
    controls->addWidget(captureBox_, 1);
    controls->addWidget(colourBox_);
    controls->addWidget(channelBox_);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(controls);
    layout->addWidget(caption_);
    hoverPreview_->setFixedWidth(kThumbnailSide + 40);
    hoverPreview_->setAlignment(Qt::AlignTop | Qt::AlignHCenter);
    hoverPreview_->setWordWrap(true);
    hoverPreview_->setToolTip(tr("The image under the mouse"));
    auto* plotRow = new QHBoxLayout;
    plotRow->addWidget(plot_, 1);
    plotRow->addWidget(hoverPreview_);
    layout->addLayout(plotRow, 1);
    layout->addWidget(strip_);

    connect(captureBox_, &QComboBox::currentIndexChanged, this, [this] { project(); });
    connect(colourBox_, &QComboBox::currentIndexChanged, this,
            [this](int index) { setColouring(Colouring(index), channel_); });
    connect(channelBox_, &QSpinBox::valueChanged, this,
            [this](int channel) { setColouring(Colouring::Channel, channel); });
    connect(plot_->selectionRect(), &QCPSelectionRect::accepted, this, [this](const QRect& rect, QMouseEvent*) {
        if (rect.width() < 4 && rect.height() < 4)
            return; // a click, handled on release
        selectInside(QRectF(QPointF(plot_->xAxis->pixelToCoord(rect.left()), plot_->yAxis->pixelToCoord(rect.bottom())),
                            QPointF(plot_->xAxis->pixelToCoord(rect.right()), plot_->yAxis->pixelToCoord(rect.top()))));
    });
    connect(plot_, &QCustomPlot::mousePress, this, [this](QMouseEvent* event) { pressedAt_ = event->position(); });
    connect(plot_, &QCustomPlot::mouseRelease, this, [this](QMouseEvent* event) {
        if (event->button() != Qt::LeftButton || !atlas_ || (event->position() - pressedAt_).manhattanLength() > 3)
            return; // a drag: the rectangle selects
        const std::int64_t image = imageAt(event->position());
        if (image < 0)
            return;
        showNeighbours(image);
        emit imageActivated(QString::fromStdString(atlas_->files()[std::size_t(image)]));
    });
    connect(plot_, &QCustomPlot::mouseMove, this, [this](QMouseEvent* event) {
        const std::int64_t image = imageAt(event->position());
        if (image < 0 || !atlas_)
            return;
        const auto predicted = atlas_->predictedClass()[std::size_t(image)];
        QToolTip::showText(event->globalPosition().toPoint(),
                           tr("%1\npredicted class %2")
                               .arg(QString::fromStdString(atlas_->files()[std::size_t(image)]))
                               .arg(predicted),
                           plot_);
        showHovered(image);
    });
    connect(strip_, &QListWidget::itemActivated, this,
            [this](QListWidgetItem* item) { emit imageActivated(item->data(Qt::UserRole).toString()); });
    setEnabled(false);
}

void AtlasProjector::setAtlas(std::shared_ptr<const Atlas> atlas)
{
    atlas_ = std::move(atlas);
    // What belonged to the previous atlas goes: its rows index other files. A neighbour search or a
    // thumbnail still on its way is dropped when it arrives.
    ++stripGeneration_;
    ++hoverGeneration_;
    projection_ = {};
    pooled_ = {};
    strip_->clear();
    {
        const QSignalBlocker blocker(captureBox_);
        captureBox_->clear();
        for (const AtlasLayer& layer : atlas_->layers())
            captureBox_->addItem(QString::fromStdString(layer.capture));
    }
    setEnabled(true);
    project();
}

bool AtlasProjector::selectCapture(const QString& capture)
{
    const int index = captureBox_->findText(capture);
    if (index < 0)
        return false;
    if (index == captureBox_->currentIndex())
        project();
    captureBox_->setCurrentIndex(index);
    return true;
}

namespace {

QThreadPool& projectionPool()
{
    static QThreadPool* const pool = detachedPool(1);
    return *pool;
}

} // namespace

void AtlasProjector::project()
{
    if (!atlas_ || captureBox_->currentIndex() < 0)
        return;
    const LatestRequest::Ticket ticket = projections_.next();
    QPointer<AtlasProjector> self(this);
    const auto atlas = atlas_;
    const std::string capture = captureBox_->currentText().toStdString();
    // A PCA of a large atlas takes long (about 30 s for 10,000 images of 2048 channels): on a thread of
    // its own, so that Explain, patches and previews on the global pool do not wait behind it, and a
    // projection superseded while it waited (another capture, another atlas) is not computed at all.
    projectionPool().start([self, ticket, atlas, capture] {
        if (ticket.stale())
            return;
        Tensor pooled;
        Projection projection;
        QString error;
        try {
            pooled = atlas->pooled(capture);
            projection = projectPooled(pooled);
        } catch (const std::exception& e) {
            error = QString::fromStdString(e.what());
        }
        if (ticket.stale())
            return; // superseded or closed (the window may be gone: nothing to post to)
        QMetaObject::invokeMethod(qApp, [self, ticket, pooled, projection, error] {
            if (!self || ticket.stale())
                return;
            self->pooled_ = pooled;
            self->projection_ = projection;
            if (!error.isEmpty()) {
                self->caption_->setText(error);
                return;
            }
            self->channelBox_->setRange(0, int(pooled.shape[1]) - 1);
            self->caption_->setText(tr("%1 images; the two components explain %2% and %3% of the variance")
                                        .arg(pooled.shape[0])
                                        .arg(100 * projection.explained[0], 0, 'f', 1)
                                        .arg(100 * projection.explained[1], 0, 'f', 1));
            self->draw();
            emit self->projected();
        });
    });
}

void AtlasProjector::setColouring(Colouring colouring, int channel)
{
    colouring_ = colouring;
    channel_ = channel;
    const QSignalBlocker blockColour(colourBox_), blockChannel(channelBox_);
    colourBox_->setCurrentIndex(int(colouring));
    channelBox_->setValue(channel);
    channelBox_->setEnabled(colouring == Colouring::Channel);
    draw();
}

void AtlasProjector::draw()
{
    plot_->clearGraphs();
    if (!atlas_ || projection_.x.empty())
        return;
    const auto images = std::int64_t(projection_.x.size());
    // Each image's group: a subfolder, a class, or a bin of the channel's value.
    std::vector<int> group(std::size_t(images), 0);
    std::vector<QString> names;
    std::vector<QColor> colours;
    if (colouring_ == Colouring::Channel && channel_ < pooled_.shape[1]) {
        const std::int64_t channels = pooled_.shape[1];
        float lo = INFINITY, hi = -INFINITY;
        for (std::int64_t i = 0; i < images; ++i) {
            const float v = pooled_.values<float>()[i * channels + channel_];
            if (std::isfinite(v))
                lo = std::min(lo, v), hi = std::max(hi, v);
        }
        for (int b = 0; b < kValueBins; ++b) {
            const auto rgb = colormapColor(Colormap::Viridis, (b + 0.5) / kValueBins);
            colours.emplace_back(rgb[0], rgb[1], rgb[2]);
            names.push_back(tr("%1 … %2")
                                .arg(lo + (hi - lo) * b / kValueBins, 0, 'g', 3)
                                .arg(lo + (hi - lo) * (b + 1) / kValueBins, 0, 'g', 3));
        }
        for (std::int64_t i = 0; i < images; ++i) {
            const float v = pooled_.values<float>()[i * channels + channel_];
            group[std::size_t(i)]
                = hi > lo && std::isfinite(v) ? std::min(kValueBins - 1, int((v - lo) / (hi - lo) * kValueBins)) : 0;
        }
    } else {
        std::map<QString, int> index;
        for (std::int64_t i = 0; i < images; ++i) {
            const QString key = colouring_ == Colouring::PredictedClass
                ? tr("class %1").arg(atlas_->predictedClass()[std::size_t(i)])
                : subfolderOf(QString::fromStdString(atlas_->files()[std::size_t(i)]), atlas_->info().inputs);
            index.emplace(key, 0);
        }
        int n = 0;
        for (auto& [key, value] : index) {
            value = n++;
            names.push_back(key.isEmpty() ? tr("(top level)") : key);
        }
        for (int k = 0; k < n; ++k)
            colours.push_back(categoryColour(k, n));
        for (std::int64_t i = 0; i < images; ++i) {
            const QString key = colouring_ == Colouring::PredictedClass
                ? tr("class %1").arg(atlas_->predictedClass()[std::size_t(i)])
                : subfolderOf(QString::fromStdString(atlas_->files()[std::size_t(i)]), atlas_->info().inputs);
            group[std::size_t(i)] = index.at(key);
        }
    }
    std::vector<QVector<double>> xs(names.size()), ys(names.size());
    for (std::int64_t i = 0; i < images; ++i) {
        if (!std::isfinite(projection_.x[std::size_t(i)]))
            continue;
        xs[std::size_t(group[std::size_t(i)])].push_back(projection_.x[std::size_t(i)]);
        ys[std::size_t(group[std::size_t(i)])].push_back(projection_.y[std::size_t(i)]);
    }
    for (std::size_t g = 0; g < names.size(); ++g) {
        QCPGraph* graph = plot_->addGraph();
        graph->setLineStyle(QCPGraph::lsNone);
        graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, colours[g], colours[g], 6));
        graph->setName(names[g]);
        graph->setData(xs[g], ys[g]);
    }
    plot_->legend->setVisible(names.size() <= 12);
    plot_->rescaleAxes();
    plot_->xAxis->scaleRange(1.08);
    plot_->yAxis->scaleRange(1.08);
    plot_->replot();
}

void AtlasProjector::showHovered(std::int64_t image)
{
    if (image == hovered_ || !atlas_)
        return;
    hovered_ = image;
    const quint64 generation = ++hoverGeneration_;
    const std::string file = atlas_->files()[std::size_t(image)];
    QPointer<AtlasProjector> self(this);
    QThreadPool::globalInstance()->start([self, generation, file] {
        QImage thumbnail;
        try {
            thumbnail = atlasThumbnail(file, kThumbnailSide);
        } catch (const std::exception&) {
        }
        QMetaObject::invokeMethod(qApp, [self, generation, thumbnail, file] {
            if (!self || generation != self->hoverGeneration_)
                return;
            const QString name = QFileInfo(QString::fromStdString(file)).fileName();
            if (thumbnail.isNull()) {
                self->hoverPreview_->setText(self->tr("%1\n(cannot be read)").arg(name));
            } else {
                self->hoverPreview_->setPixmap(QPixmap::fromImage(thumbnail));
                self->hoverPreview_->setToolTip(QString::fromStdString(file));
            }
            emit self->hoverShown();
        });
    });
}

int AtlasProjector::groupCount() const { return plot_->graphCount(); }

std::int64_t AtlasProjector::imageAt(const QPointF& pixel, double radius) const
{
    std::int64_t best = -1;
    double bestDistance = radius * radius;
    for (std::size_t i = 0; i < projection_.x.size(); ++i) {
        if (!std::isfinite(projection_.x[i]))
            continue;
        const double dx = plot_->xAxis->coordToPixel(projection_.x[i]) - pixel.x();
        const double dy = plot_->yAxis->coordToPixel(projection_.y[i]) - pixel.y();
        if (dx * dx + dy * dy <= bestDistance)
            bestDistance = dx * dx + dy * dy, best = std::int64_t(i);
    }
    return best;
}

void AtlasProjector::showNeighbours(std::int64_t image)
{
    if (!atlas_ || pooled_.shape.empty())
        return;
    // A pass over every pooled vector (about 0.3 s for 100,000 of 2048 channels): off the GUI thread; a
    // newer strip (another click, a rectangle) supersedes it.
    const quint64 generation = ++stripGeneration_;
    QPointer<AtlasProjector> self(this);
    QThreadPool::globalInstance()->start([self, generation, pooled = pooled_, image] {
        std::vector<Neighbour> neighbours;
        try {
            neighbours = nearestByCosine(pooled, image, kNeighbours);
        } catch (const std::exception&) { // not an image of this atlas: the strip shows it alone
        }
        QMetaObject::invokeMethod(qApp, [self, generation, image, neighbours] {
            if (!self || generation != self->stripGeneration_)
                return;
            std::vector<std::int64_t> images {image};
            std::vector<QString> captions {tr("this image")};
            for (const Neighbour& n : neighbours) {
                images.push_back(n.index);
                captions.push_back(tr("cosine %1").arg(double(n.similarity), 0, 'f', 3));
            }
            self->fillStrip(images, captions);
        });
    });
}

void AtlasProjector::selectInside(const QRectF& area)
{
    std::vector<std::int64_t> images;
    std::vector<QString> captions;
    const QRectF box = area.normalized();
    for (std::size_t i = 0; i < projection_.x.size(); ++i)
        if (box.contains(projection_.x[i], projection_.y[i])) {
            images.push_back(std::int64_t(i));
            captions.push_back(QFileInfo(QString::fromStdString(atlas_->files()[i])).fileName());
        }
    caption_->setText(tr("%1 images in the rectangle").arg(images.size()));
    if (images.size() > 200) { // enough to see what the group is
        images.resize(200);
        captions.resize(200);
    }
    fillStrip(images, captions);
}

void AtlasProjector::fillStrip(const std::vector<std::int64_t>& images, const std::vector<QString>& captions)
{
    strip_->clear();
    std::vector<std::string> files;
    for (std::size_t i = 0; i < images.size(); ++i) {
        if (images[i] < 0 || std::size_t(images[i]) >= atlas_->files().size())
            continue; // not this atlas's image
        const QString file = QString::fromStdString(atlas_->files()[std::size_t(images[i])]);
        files.push_back(file.toStdString());
        auto* item = new QListWidgetItem(captions[i], strip_);
        item->setData(Qt::UserRole, file);
        item->setToolTip(file);
    }
    const quint64 generation = ++stripGeneration_;
    QPointer<AtlasProjector> self(this);
    QThreadPool::globalInstance()->start([self, generation, files] {
        std::vector<QImage> thumbnails;
        for (const std::string& file : files) {
            try {
                thumbnails.push_back(atlasThumbnail(file, kThumbnailSide));
            } catch (const std::exception&) {
                thumbnails.emplace_back(); // the caption and tooltip still name it
            }
        }
        QMetaObject::invokeMethod(qApp, [self, generation, thumbnails] {
            if (!self || generation != self->stripGeneration_)
                return;
            for (int i = 0; i < int(thumbnails.size()) && i < self->strip_->count(); ++i)
                if (!thumbnails[std::size_t(i)].isNull())
                    self->strip_->item(i)->setIcon(QIcon(QPixmap::fromImage(thumbnails[std::size_t(i)])));
            emit self->stripShown();
        });
    });
}

} // namespace layerscope::ui
