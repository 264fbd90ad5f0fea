#include "atlasdock.h"

#include "atlasexport.h"
#include "atlasprojector.h"
#include "atlasview.h"
#include "viewexport.h"

#include <QApplication>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QMenu>
#include <QPointer>
#include <QProgressBar>
#include <QPushButton>
#include <QTabWidget>
#include <QThreadPool>
#include <QToolButton>
#include <QVBoxLayout>

namespace layerscope::ui {

AtlasDock::AtlasDock(QWidget* parent)
    : QDockWidget(tr("Atlas"), parent)
    , view_(new AtlasView)
    , projector_(new AtlasProjector)
    , tabs_(new QTabWidget)
    , status_(new QLabel)
    , progress_(new QProgressBar)
    , cancel_(new QPushButton(tr("Cancel")))
{
    setObjectName("atlasDock");
    tabs_->addTab(view_, tr("Channels"));
    tabs_->addTab(projector_, tr("Projector"));
    status_->setText(tr("No atlas open: File > Open Atlas… or Build Atlas… (layerscope-cli atlas makes one too)"));
    status_->setWordWrap(true);
    progress_->setVisible(false);
    cancel_->setVisible(false);
    cancel_->setToolTip(tr("Stop building the atlas after the current batch; nothing is written under its name "
                           "(with \"Keep its progress\", building it again continues from there)"));
    auto* exportButton = new QToolButton;
    exportButton->setText(tr("Export"));
    exportButton->setToolTip(tr("The channel's images, the statistics, the projector or its coordinates as files"));
    exportButton->setPopupMode(QToolButton::InstantPopup);
    auto* exportMenu = new QMenu(exportButton);
    exportMenu->addAction(tr("Channel's Images as PNG…"), this, [this] { exportDialog(0); });
    exportMenu->addAction(tr("Channel Statistics as CSV…"), this, [this] { exportDialog(1); });
    exportMenu->addAction(tr("Projector as PNG, PDF or SVG…"), this, [this] { exportDialog(2); });
    exportMenu->addAction(tr("Projector Coordinates as CSV…"), this, [this] { exportDialog(3); });
    exportButton->setMenu(exportMenu);
    auto* bar = new QHBoxLayout;
    bar->addWidget(status_, 1);
    bar->addWidget(exportButton);
    bar->addWidget(progress_);
    bar->addWidget(cancel_);
    auto* content = new QWidget;
    auto* layout = new QVBoxLayout(content);
    layout->addLayout(bar);
    layout->addWidget(tabs_, 1);
    setWidget(content);

    connect(cancel_, &QPushButton::clicked, this, &AtlasDock::cancelBuild);
    connect(view_, &AtlasView::opened, this, [this](const QString& path) {
        path_ = path;
        projector_->setAtlas(view_->sharedAtlas());
        status_->setText(tr("Atlas %1").arg(path));
        emit opened(path);
    });
    connect(view_, &AtlasView::failed, this, [this](const QString& message) {
        status_->setText(message);
        emit failed(message);
    });
    connect(view_, &AtlasView::imageActivated, this, &AtlasDock::imageActivated);
    connect(projector_, &AtlasProjector::imageActivated, this,
            [this](const QString& file) { emit imageActivated(file, view_->capture(), view_->channel()); });
}

AtlasDock::~AtlasDock()
{
    if (stop_)
        *stop_ = true; // a pass still running stops at its next batch and writes nothing
}

void AtlasDock::openAtlas(const QString& path)
{
    status_->setText(tr("Opening %1…").arg(path));
    show();
    raise();
    view_->openAtlas(path);
}

void AtlasDock::build(const AtlasJob& job, std::shared_ptr<const Model> model)
{
    if (building_)
        return;
    building_ = true;
    stop_ = std::make_shared<std::atomic<bool>>(false);
    progress_->setRange(0, 0);
    progress_->setVisible(true);
    cancel_->setVisible(true);
    status_->setText(tr("Building the atlas of %1…").arg(QString::fromStdString(job.run.inputs.front())));
    show();
    raise();
    QPointer<AtlasDock> self(this);
    auto stop = stop_;
    const bool kept = job.run.resume;
    QThreadPool::globalInstance()->start([self, stop, work = job, model, kept] {
        QString error;
        bool cancelled = false;
        try {
            const AtlasResult result = buildAtlas(*model, work, [self, stop](const ExtractionProgress& p) {
                QMetaObject::invokeMethod(qApp, [self, p] {
                    if (self && self->building_) {
                        self->progress_->setRange(0, int(p.total));
                        self->progress_->setValue(int(p.done));
                        self->status_->setText(tr("Building the atlas: %1 of %2 images").arg(p.done).arg(p.total));
                    }
                });
                return !*stop;
            });
            cancelled = result.cancelled;
        } catch (const std::exception& e) {
            error = QString::fromStdString(e.what());
        }
        const QString path = QString::fromStdString(work.run.outputPath);
        QMetaObject::invokeMethod(qApp, [self, error, cancelled, path, kept] {
            if (!self)
                return;
            self->building_ = false;
            self->progress_->setVisible(false);
            self->cancel_->setVisible(false);
            if (!error.isEmpty()) {
                self->status_->setText(error);
                emit self->failed(error);
            } else if (cancelled) {
                self->status_->setText(kept ? tr("Building the atlas was cancelled: its progress is kept beside it, "
                                                 "and building it again with the same settings continues")
                                            : tr("Building the atlas was cancelled: nothing was written"));
                emit self->buildCancelled();
            } else {
                emit self->built(path);
                self->openAtlas(path);
            }
        });
    });
}

bool AtlasDock::exportStatistics(const QString& path) const
{
    const Atlas* atlas = view_->atlas();
    return atlas && writeChannelStatisticsCsv(atlas->layer(view_->capture().toStdString()), path);
}

bool AtlasDock::exportPatches(const QString& path) const
{
    return view_->atlas()
        && savePatchGrid(*view_->patchList(),
                         tr("%1, channel %2: %3 images")
                             .arg(view_->capture())
                             .arg(view_->channel())
                             .arg(view_->patchList()->count()),
                         path);
}

bool AtlasDock::exportProjector(const QString& path) const
{
    return view_->atlas() && savePlot(projector_->plot(), path);
}

bool AtlasDock::exportCoordinates(const QString& path) const
{
    return view_->atlas() && writeProjectionCsv(*view_->atlas(), projector_->projection(), path);
}

void AtlasDock::exportDialog(int what)
{
    if (!view_->atlas()) {
        status_->setText(tr("Open an atlas first"));
        return;
    }
    const QString base = QFileInfo(path_).completeBaseName() + "-" + view_->capture();
    const QString names[] = {base + QString("-channel%1.png").arg(view_->channel()), base + "-channels.csv",
                             base + "-projector.png", base + "-projector.csv"};
    const QString filters[]
        = {tr("PNG (*.png)"), tr("CSV (*.csv)"), tr("Pictures (*.png *.pdf *.svg)"), tr("CSV (*.csv)")};
    const QString path
        = QFileDialog::getSaveFileName(this, tr("Export"), QFileInfo(path_).dir().filePath(names[what]), filters[what]);
    if (path.isEmpty())
        return;
    const bool written = what == 0 ? exportPatches(path)
        : what == 1                ? exportStatistics(path)
        : what == 2                ? exportProjector(path)
                                   : exportCoordinates(path);
    status_->setText(written ? tr("Wrote %1").arg(path) : tr("%1: cannot be written").arg(path));
}

void AtlasDock::cancelBuild()
{
    if (stop_)
        *stop_ = true;
    if (building_)
        status_->setText(tr("Cancelling after the current batch…"));
}

void AtlasDock::showProjector()
{
    tabs_->setCurrentWidget(projector_);
    show();
}

} // namespace layerscope::ui
