// MainWindow's atlas wiring: the Atlas dock, "Open Atlas…" and "Build Atlas…", and opening an
// atlas's image in the main view. Kept apart from mainwindow.cpp, which wires everything else.

#include "mainwindow.h"

#include "atlasbuilddialog.h"
#include "atlasdock.h"
#include "atlasview.h"
#include "featuremapview.h"
#include "inputpanel.h"
#include "moduletreemodel.h"

#include <QFileDialog>
#include <QFileInfo>
#include <QLineEdit>
#include <QMenu>

namespace layerscope::ui {

void MainWindow::addAtlasActions(QMenu* fileMenu)
{
    atlasDock_ = new AtlasDock(this);
    addDockWidget(Qt::RightDockWidgetArea, atlasDock_);
    atlasDock_->hide();
    connect(atlasDock_, &AtlasDock::imageActivated, this, &MainWindow::openAtlasImage);
    connect(atlasDock_, &AtlasDock::failed, this, &MainWindow::showError);
    // A channel opened in the grid is also shown in the atlas, when the atlas has this capture.
    connect(featureMaps_, &FeatureMapView::channelActivated, this, [this](int channel) {
        if (atlasDock_->view()->atlas() && atlasDock_->view()->selectCapture(shownModule_)) {
            atlasDock_->view()->selectChannel(channel);
            atlasDock_->show();
        }
    });

    auto* open = fileMenu->addAction(tr("Open &Atlas…"), this, [this] {
        const QString path = QFileDialog::getExistingDirectory(
            this, tr("Open Atlas (a folder made by Build Atlas or layerscope-cli atlas)"), lastFolder());
        if (path.isEmpty())
            return;
        rememberFolder(QFileInfo(path).path());
        atlasDock_->openAtlas(path);
    });
    open->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O));
    open->setToolTip(tr("Browse an atlas: each channel's top images across a data set, and the projector"));
    auto* build = fileMenu->addAction(tr("&Build Atlas…"), this, &MainWindow::buildAtlasDialog);
    build->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_B));
    build->setToolTip(
        tr("One pass over a folder with this model: what each channel of the chosen captures responds to"));
}

void MainWindow::buildAtlas(const AtlasJob& job)
{
    if (!model_) {
        showError(tr("Open a model first: an atlas is built with the model in the window"));
        return;
    }
    if (atlasDock_->isBuilding()) {
        showError(tr("An atlas is being built already; cancel it in the Atlas dock first"));
        return;
    }
    atlasDock_->build(job, model_);
}

void MainWindow::buildAtlasDialog()
{
    if (!model_ || atlasDock_->isBuilding())
        return buildAtlas({}); // says why not
    QStringList captures = treeModel_->checkedModules();
    if (captures.isEmpty() && !shownModule_.isEmpty())
        captures << shownModule_;
    AtlasBuildDialog dialog(captures, lastFolder(), QFileInfo(currentModelPath()).completeBaseName(), this);
    if (dialog.exec() != QDialog::Accepted || !dialog.isComplete())
        return;
    rememberFolder(dialog.folderEdit()->text());
    buildAtlas(dialog.job(inputs_->preprocessing()));
}

void MainWindow::openAtlasImage(const QString& file, const QString& capture, int channel)
{
    // Once the image's run arrives: the capture on screen, and the channel in its own window.
    auto connection = std::make_shared<QMetaObject::Connection>();
    *connection = connect(this, &MainWindow::runReady, this, [this, connection, capture, channel] {
        disconnect(*connection);
        showModule(capture);
        if (channel >= 0)
            showChannel(channel);
    });
    inputs_->setInputs({file});
    runNow();
}

} // namespace layerscope::ui
