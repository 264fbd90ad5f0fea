#include "atlasview.h"

#include "atlaspatch.h"
#include "layerscope/error.h"
#include "layerscope/extraction.h"

#include "plotstyle.h"

#include <qcustomplot.h>

#include <QCheckBox>
#include <QComboBox>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QPointer>
#include <QSpinBox>
#include <QThreadPool>
#include <QVBoxLayout>

#include <algorithm>
#include <numeric>

namespace layerscope::ui {

namespace {

constexpr int kPatchSide = 112;

QImage missingPatch(const QString& why)
{
    QImage image(kPatchSide, kPatchSide, QImage::Format_RGB32);
    image.fill(QColor(60, 60, 60));
    QPainter painter(&image);
    painter.setPen(Qt::white);
    painter.drawText(image.rect().adjusted(4, 4, -4, -4), Qt::AlignCenter | Qt::TextWordWrap, why);
    return image;
}

} // namespace

AtlasView::AtlasView(QWidget* parent)
    : QWidget(parent)
    , captureBox_(new QComboBox(this))
    , metricBox_(new QComboBox(this))
    , channelBox_(new QSpinBox(this))
    , bottomBox_(new QCheckBox(tr("Lowest"), this))
    , mapBox_(new QCheckBox(tr("Map"), this))
    , summaryLabel_(new QLabel(this))
    , strip_(new QCustomPlot(this))
    , patches_(new QListWidget(this))
{
    captureBox_->setToolTip(tr("The capture whose channels are shown"));
    metricBox_->addItems({tr("Rank by mean"), tr("Rank by max"), tr("Rank by active fraction")});
    metricBox_->setCurrentIndex(1);
    // Narrow enough for a dock beside the feature maps at 1280 px; the list opens at full width.
    metricBox_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    metricBox_->setMinimumContentsLength(10);
    captureBox_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    captureBox_->setMinimumContentsLength(8);
    metricBox_->setToolTip(
        tr("Mean and max over every image and position; active: the fraction of images whose score is above zero"));
    channelBox_->setPrefix(tr("channel "));
    channelBox_->setToolTip(tr("The channel whose images are shown (or click a bar)"));
    channelBox_->setKeyboardTracking(false);
    bottomBox_->setToolTip(tr("Show the images that score lowest on this channel"));
    summaryLabel_->setWordWrap(true);

    strip_->setMinimumHeight(96);
    strip_->xAxis->setLabel(tr("channels, ranked"));
    strip_->xAxis->setTicks(false);
    strip_->setToolTip(tr("Each bar a channel, ranked by the chosen statistic; red: dead (never above zero). Click one "
                          "to see its images."));
    aliveBars_ = new QCPBars(strip_->xAxis, strip_->yAxis);
    deadBars_ = new QCPBars(strip_->xAxis, strip_->yAxis);
    chosenBar_ = new QCPBars(strip_->xAxis, strip_->yAxis);
    for (QCPBars* bars : {aliveBars_, deadBars_, chosenBar_}) {
        bars->setWidthType(QCPBars::wtPlotCoords);
        bars->setWidth(0.9);
        bars->setPen(Qt::NoPen);
    }
    aliveBars_->setBrush(palette().color(QPalette::Highlight));
    deadBars_->setBrush(QColor(200, 40, 40));
    chosenBar_->setBrush(QColor(255, 170, 0));
    connect(strip_, &QCustomPlot::mousePress, this, &AtlasView::onStripClicked);
    followPalette(strip_, palette());
    connect(strip_, &QCustomPlot::mouseMove, this, [this](QMouseEvent* event) {
        const long rank = std::lround(strip_->xAxis->pixelToCoord(event->position().x()));
        const AtlasLayer* current = layer();
        if (!current || rank < 0 || rank >= long(order_.size()))
            return;
        const int c = order_[std::size_t(rank)];
        const ChannelStatistics& s = current->statistics[std::size_t(c)];
        strip_->setToolTip(tr("channel %1%2: mean %3, max %4, active in %5% of images")
                               .arg(c)
                               .arg(s.dead() ? tr(" (dead)") : QString())
                               .arg(s.mean, 0, 'g', 4)
                               .arg(s.max, 0, 'g', 4)
                               .arg(100 * s.activeFraction(), 0, 'f', 1));
    });

    patches_->setViewMode(QListView::IconMode);
    patches_->setIconSize(QSize(kPatchSide, kPatchSide));
    patches_->setResizeMode(QListView::Adjust);
    patches_->setMovement(QListView::Static);
    patches_->setSpacing(4);
    patches_->setWordWrap(true);
    patches_->setMinimumHeight(72); // a small screen scrolls the patches rather than growing the window
    patches_->setToolTip(tr(
        "The region under the channel's maximum in each image, as the model saw it; double-click to open the image"));

    auto* controls = new QHBoxLayout;
    controls->addWidget(captureBox_, 1);
    controls->addWidget(metricBox_);
    controls->addWidget(channelBox_);
    auto* patchControls = new QHBoxLayout; // what the patches show, over them
    patchControls->addWidget(bottomBox_);
    patchControls->addWidget(mapBox_);
    patchControls->addStretch(1);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(controls);
    layout->addWidget(summaryLabel_);
    layout->addWidget(strip_, 1);
    layout->addLayout(patchControls);
    layout->addWidget(patches_, 2);

    connect(captureBox_, &QComboBox::currentIndexChanged, this, [this] { showCapture(); });
    connect(metricBox_, &QComboBox::currentIndexChanged, this, [this](int index) { setMetric(Metric(index)); });
    connect(channelBox_, &QSpinBox::valueChanged, this, [this](int channel) { selectChannel(channel); });
    connect(bottomBox_, &QCheckBox::toggled, this, [this] { showPatches(); });
    mapBox_->setChecked(true);
    mapBox_->setObjectName("atlasMapOverlay");
    connect(mapBox_, &QCheckBox::toggled, this, [this] { showPatches(); });
    updateMapBox();
    connect(patches_, &QListWidget::itemActivated, this, [this](QListWidgetItem* item) {
        emit imageActivated(item->data(Qt::UserRole).toString(), capture(), channel_);
    });
    setEnabled(false);
}

void AtlasView::openAtlas(const QString& path)
{
    QPointer<AtlasView> self(this);
    const std::string file = path.toStdString();
    QThreadPool::globalInstance()->start([self, file, path] {
        std::shared_ptr<const Atlas> atlas;
        QString error;
        try {
            atlas = std::make_shared<const Atlas>(Atlas::open(file));
        } catch (const std::exception& e) {
            error = QString::fromStdString(e.what());
        }
        QMetaObject::invokeMethod(qApp, [self, atlas, error, path] {
            if (!self)
                return;
            if (!atlas) {
                emit self->failed(error);
                return;
            }
            self->setAtlas(atlas);
            emit self->opened(path);
        });
    });
}

void AtlasView::setAtlas(std::shared_ptr<const Atlas> atlas)
{
    atlas_ = std::move(atlas);
    preprocessing_ = atlas_->info().preprocessingJson.empty()
        ? Preprocessing()
        : Preprocessing::fromJson(atlas_->info().preprocessingJson);
    const QSignalBlocker blocker(captureBox_);
    captureBox_->clear();
    for (const AtlasLayer& layer : atlas_->layers())
        captureBox_->addItem(QString::fromStdString(layer.capture));
    setEnabled(true);
    updateMapBox();
    showCapture();
}

const AtlasLayer* AtlasView::layer() const
{
    if (!atlas_ || captureBox_->currentIndex() < 0)
        return nullptr;
    return &atlas_->layers()[std::size_t(captureBox_->currentIndex())];
}

QString AtlasView::capture() const { return captureBox_->currentText(); }

int AtlasView::channel() const { return channel_; }

bool AtlasView::selectCapture(const QString& capture)
{
    const int index = captureBox_->findText(capture);
    if (index < 0)
        return false;
    captureBox_->setCurrentIndex(index); // showCapture() through the signal when it changes
    return true;
}

double AtlasView::metricOf(const ChannelStatistics& s) const
{
    switch (metric_) {
    case Metric::Mean: return s.values > 0 ? s.mean : 0.0;
    case Metric::Max: return s.values > 0 ? s.max : 0.0;
    case Metric::Active: return s.activeFraction();
    }
    return 0.0;
}

void AtlasView::setMetric(Metric metric)
{
    metric_ = metric;
    if (metricBox_->currentIndex() != int(metric)) {
        const QSignalBlocker blocker(metricBox_);
        metricBox_->setCurrentIndex(int(metric));
    }
    drawStrip();
}

void AtlasView::setBottom(bool bottom) { bottomBox_->setChecked(bottom); }

void AtlasView::setModel(std::shared_ptr<const Model> model)
{
    model_ = model && model->requiredArgumentCount() == 1 ? std::move(model) : nullptr;
    modelHash_.clear();
    updateMapBox();
    if (!model_)
        return;
    QPointer<AtlasView> self(this);
    QThreadPool::globalInstance()->start([self, model = model_] {
        std::string hash;
        try {
            hash = sha256OfFile(model->path());
        } catch (const std::exception&) {
            return; // no overlay: the patches stay as they are
        }
        QMetaObject::invokeMethod(qApp, [self, model, hash] {
            if (!self || self->model_ != model)
                return;
            self->modelHash_ = hash;
            self->updateMapBox();
            if (self->atlas_)
                self->showPatches(); // with the maps, or (another model) as they were: patchesShown() again
        });
    });
}

bool AtlasView::drawsMaps() const { return mapBox_->isChecked() && mapBox_->isEnabled(); }

void AtlasView::updateMapBox()
{
    const bool matches = atlas_ && model_ && !modelHash_.empty() && modelHash_ == atlas_->info().modelSha256;
    mapBox_->setEnabled(matches);
    mapBox_->setToolTip(matches ? tr("The channel's map over each patch (one forward of the window's model per image)")
                                : tr("The channel's map over each patch needs the atlas's model open in the window "
                                     "(the same file, by SHA-256)"));
}

QString AtlasView::summary() const { return summaryLabel_->text(); }

void AtlasView::showCapture()
{
    const AtlasLayer* current = layer();
    if (!current)
        return;
    const auto dead = std::count_if(current->statistics.begin(), current->statistics.end(),
                                    [](const ChannelStatistics& s) { return s.dead(); });
    summaryLabel_->setText(tr("%1: %2 channels, %3 dead, over %4 images (score: %5 over each map, top %6)")
                               .arg(capture())
                               .arg(current->channels())
                               .arg(dead)
                               .arg(atlas_->images())
                               .arg(QString::fromStdString(atlasScoreName(atlas_->info().score)))
                               .arg(atlas_->info().topK));
    {
        const QSignalBlocker blocker(channelBox_);
        channelBox_->setRange(0, int(current->channels()) - 1);
    }
    channel_ = std::min(channel_, int(current->channels()) - 1);
    drawStrip();
    selectChannel(order_.empty() ? 0 : order_.front());
}

void AtlasView::drawStrip()
{
    const AtlasLayer* current = layer();
    if (!current)
        return;
    order_.resize(std::size_t(current->channels()));
    std::iota(order_.begin(), order_.end(), 0);
    std::stable_sort(order_.begin(), order_.end(), [&](int a, int b) {
        return metricOf(current->statistics[std::size_t(a)]) > metricOf(current->statistics[std::size_t(b)]);
    });
    QVector<double> aliveKeys, aliveValues, deadKeys, deadValues;
    double highest = 0;
    for (const ChannelStatistics& s : current->statistics)
        highest = std::max(highest, std::abs(metricOf(s)));
    for (std::size_t rank = 0; rank < order_.size(); ++rank) {
        const ChannelStatistics& s = current->statistics[std::size_t(order_[rank])];
        (s.dead() ? deadKeys : aliveKeys).push_back(double(rank));
        // A dead channel's value is often exactly zero: its red mark reaches below the axis.
        (s.dead() ? deadValues : aliveValues)
            .push_back(s.dead() ? std::min(metricOf(s), -0.04 * highest) : metricOf(s));
    }
    aliveBars_->setData(aliveKeys, aliveValues, true);
    deadBars_->setData(deadKeys, deadValues, true);
    strip_->rescaleAxes();
    strip_->xAxis->setRange(-1, double(order_.size()));
    strip_->yAxis->setLabel(metricBox_->currentText().mid(tr("Rank by ").size()));
    selectChannel(channel_);
}

void AtlasView::selectChannel(int channel)
{
    const AtlasLayer* current = layer();
    if (!current || channel < 0 || channel >= current->channels())
        return;
    channel_ = channel;
    if (channelBox_->value() != channel) {
        const QSignalBlocker blocker(channelBox_);
        channelBox_->setValue(channel);
    }
    const auto rank = std::find(order_.begin(), order_.end(), channel) - order_.begin();
    chosenBar_->setData({double(rank)}, {metricOf(current->statistics[std::size_t(channel)])});
    strip_->replot();
    showPatches();
}

void AtlasView::onStripClicked(QMouseEvent* event)
{
    const double key = strip_->xAxis->pixelToCoord(event->position().x());
    const long rank = std::lround(key);
    if (rank >= 0 && rank < long(order_.size()))
        selectChannel(order_[std::size_t(rank)]);
}

void AtlasView::showPatches()
{
    const AtlasLayer* current = layer();
    if (!current)
        return;
    const std::vector<AtlasEntry> entries
        = (bottomBox_->isChecked() ? current->bottom : current->top)[std::size_t(channel_)];
    patches_->clear();
    std::vector<std::string> files;
    for (std::size_t rank = 0; rank < entries.size(); ++rank) {
        const QString file = QString::fromStdString(atlas_->fileOfRow(entries[rank].row));
        files.push_back(file.toStdString());
        auto* item = new QListWidgetItem(
            QIcon(QPixmap::fromImage(missingPatch(tr("loading…")))),
            tr("#%1  %2\n%3").arg(rank + 1).arg(double(entries[rank].score), 0, 'g', 4).arg(QFileInfo(file).fileName()),
            patches_);
        item->setData(Qt::UserRole, file);
        item->setToolTip(tr("%1\nscore %2 at (y %3, x %4)")
                             .arg(file)
                             .arg(double(entries[rank].score), 0, 'g', 7)
                             .arg(entries[rank].y)
                             .arg(entries[rank].x));
    }
    const LatestRequest::Ticket ticket = patchRequests_.next();
    if (entries.empty()) {
        emit patchesShown();
        return;
    }
    QPointer<AtlasView> self(this);
    const AtlasLayer layerCopy = *current; // the worker needs the grid's shape only, but owns its copy
    const Preprocessing preprocessing = preprocessing_;
    const PatchOverlay overlay {drawsMaps() ? model_ : nullptr, channel_};
    QThreadPool::globalInstance()->start([self, ticket, entries, files, layerCopy, preprocessing, overlay] {
        std::vector<QImage> images;
        for (std::size_t i = 0; i < entries.size(); ++i) {
            if (ticket.stale())
                return; // another channel was chosen: its patches, with a forward each, come first
            try {
                images.push_back(atlasPatch(files[i], preprocessing, layerCopy, entries[i], kPatchSide, overlay));
            } catch (const std::exception& e) {
                images.push_back(
                    missingPatch(QObject::tr("cannot read:\n%1").arg(QString::fromStdString(e.what()).left(80))));
            }
        }
        QMetaObject::invokeMethod(qApp, [self, ticket, images] {
            if (!self || ticket.stale())
                return; // a newer channel was chosen meanwhile
            for (int i = 0; i < int(images.size()) && i < self->patches_->count(); ++i)
                self->patches_->item(i)->setIcon(QIcon(QPixmap::fromImage(images[std::size_t(i)])));
            emit self->patchesShown();
        });
    });
}

} // namespace layerscope::ui
