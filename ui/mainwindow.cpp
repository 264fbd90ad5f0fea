#include "mainwindow.h"

#include "activationplots.h"
#include "atlasdock.h"
#include "atlasview.h"
#include "callselector.h"
#include "channeldialog.h"
#include "explainview.h"
#include "exportfolderdialog.h"
#include "featuremapcontrols.h"
#include "featuremapview.h"
#include "inputpanel.h"
#include "modelsettings.h"
#include "modulefilterproxy.h"
#include "moduletreemodel.h"
#include "moduletreeview.h"
#include "notrunreason.h"
#include "outputpanel.h"
#include "preprocessingeditor.h"
#include "qimages.h"
#include "statisticspanel.h"
#include "viewexport.h"

#include "layerscope/exporters.h"
#include "layerscope/statistics.h"

#include <qcustomplot.h>

#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QCloseEvent>
#include <QComboBox>
#include <QCoreApplication>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QGuiApplication>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QKeyEvent>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QPainter>
#include <QPointer>
#include <QProgressBar>
#include <QPushButton>
#include <QSaveFile>
#include <QScreen>
#include <QScrollArea>
#include <QSettings>
#include <QSpinBox>
#include <QStackedWidget>
#include <QStatusBar>
#include <QSvgGenerator>
#include <QTabWidget>
#include <QThreadPool>
#include <QTimer>
#include <QToolBar>
#include <QTreeView>
#include <QVBoxLayout>

namespace layerscope::ui {

namespace {

QString demoFolder()
{
    for (const QString& folder :
         {QCoreApplication::applicationDirPath() + "/demo", QCoreApplication::applicationDirPath() + "/../app/demo",
          QStringLiteral(LAYERSCOPE_DEMO_DIR)}) {
        if (QFileInfo::exists(folder + "/fashion_cnn.pt"))
            return folder;
    }
    return QStringLiteral(LAYERSCOPE_DEMO_DIR);
}

QString examplesFolder()
{
    const QString beside = QCoreApplication::applicationDirPath() + "/../examples";
    return QFileInfo::exists(beside) ? beside : QStringLiteral(LAYERSCOPE_EXAMPLES_DIR);
}

QString demoImage()
{
    const QStringList images = QDir(demoFolder() + "/images").entryList({"*.png"}, QDir::Files, QDir::Name);
    return images.isEmpty() ? QString() : demoFolder() + "/images/" + images.first();
}

bool isModelFile(const QString& path)
{
    const QString suffix = QFileInfo(path).suffix().toLower();
    return suffix == "pt" || suffix == "pth" || suffix == "ptl" || suffix == "torchscript" || suffix == "onnx";
}

} // namespace

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent)
    , treeModel_(new ModuleTreeModel(this))
    , filter_(new ModuleFilterProxy(this))
{
    setWindowTitle(tr("LayerScope"));
    setAcceptDrops(true);
    filter_->setSourceModel(treeModel_);

    jobs_ = new JobTracker(this);
    worker_ = new EngineWorker;
    worker_->moveToThread(&workerThread_);
    connect(&workerThread_, &QThread::finished, worker_, &QObject::deleteLater);
    connect(worker_, &EngineWorker::modelLoaded, this, &MainWindow::onModelLoaded);
    connect(worker_, &EngineWorker::runFinished, this, &MainWindow::onRunFinished);
    connect(worker_, &EngineWorker::extractionFinished, this, &MainWindow::onExtractionFinished);
    connect(worker_, &EngineWorker::failed, this, &MainWindow::onFailed);
    connect(worker_, &EngineWorker::cancelled, this, &MainWindow::onCancelled);
    connect(worker_, &EngineWorker::untrusted, this, &MainWindow::onUntrusted);
    connect(worker_, &EngineWorker::progress, jobs_, &JobTracker::setProgress);
    connect(worker_, &EngineWorker::inputSizeSuggested, this, [this](quint64 job, int channels, int height, int width) {
        if (jobs_->isCurrent(JobTracker::Kind::Run, job) || jobs_->isCurrent(JobTracker::Kind::Export, job))
            inputs_->preprocessingEditor()->suggestSize(channels, height, width); // one click to apply
    });
    connect(jobs_, &JobTracker::changed, this, &MainWindow::showJobs);
    workerThread_.start();

    createCentralView();
    createDocks();
    createActions();

    statusText_ = new QLabel(this);
    progress_ = new QProgressBar(this);
    progress_->setMaximumWidth(220);
    cancelButton_ = new QPushButton(tr("Cancel"), this);
    cancelButton_->setToolTip(
        tr("Stop what is running: a forward at its next module, an export after its current batch (Esc)"));
    statusBar()->addWidget(statusText_, 1);
    statusBar()->addPermanentWidget(progress_);
    statusBar()->addPermanentWidget(cancelButton_);
    connect(cancelButton_, &QPushButton::clicked, this, &MainWindow::cancelWork);
    showJobs();
    statusText_->setText(tr("Open a TorchScript or ONNX model (Ctrl+O) or drop one here"));

    QSettings settings;
    // The first launch fits the screen (1280x720 at least); later ones restore the user's layout.
    const QRect screen = QGuiApplication::primaryScreen() ? QGuiApplication::primaryScreen()->availableGeometry()
                                                          : QRect(0, 0, 1280, 720);
    resize(std::min(1280, screen.width()), std::min(800, screen.height()));
    restoreGeometry(settings.value("window/geometry").toByteArray());
    restoreState(settings.value("window/state").toByteArray());
    rebuildRecentMenu();
}

MainWindow::~MainWindow()
{
    inputs_->disconnect(this); // closing moves the focus: a spin box's finished edit must not start a run now
    jobs_->cancelShown();
    workerThread_.quit();
    workerThread_.wait();
}

void MainWindow::createCentralView()
{
    auto* page = new QWidget(this);
    auto* layout = new QVBoxLayout(page);
    layout->setContentsMargins(4, 4, 4, 4);

    errorBar_ = new QLabel(page);
    errorBar_->setWordWrap(true);
    errorBar_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    errorBar_->setStyleSheet(QStringLiteral("background: #c0392b; color: white; padding: 6px; border-radius: 3px;"));
    errorBar_->hide();
    layout->addWidget(errorBar_);

    // What the view shows, and its numbers, without switching to the Statistics tab.
    viewHeader_ = new QLabel(page);
    viewHeader_->setTextFormat(Qt::RichText);
    viewHeader_->setWordWrap(true);
    viewHeader_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    viewHeader_->setToolTip(
        tr("The capture on screen: module, type, call, shape and dtype; statistics of the shown sample"));
    layout->addWidget(viewHeader_);

    auto* controls = new QHBoxLayout;
    sampleBox_ = new QSpinBox(page);
    sampleBox_->setPrefix(tr("sample "));
    sampleBox_->setToolTip(tr("Which sample of the batch is shown"));
    controls->addWidget(sampleBox_);
    callBox_ = new CallSelector(page);
    connect(callBox_, &CallSelector::captureChosen, this, [this](const QString& key) { showCapture(key); });
    controls->addWidget(callBox_);

    central_ = new QStackedWidget(page);
    featureMaps_ = new FeatureMapView(central_);
    featureMapControls_ = new FeatureMapControls(featureMaps_, page);
    controls->addWidget(featureMapControls_, 1);
    controls->addStretch(0); // keeps the sample and call boxes small while the map controls are hidden
    layout->addLayout(controls);
    plots_ = new ActivationPlots(central_);
    message_ = new QLabel(central_);
    message_->setAlignment(Qt::AlignCenter);
    message_->setWordWrap(true);
    central_->addWidget(featureMaps_);
    central_->addWidget(plots_);
    central_->addWidget(message_);
    layout->addWidget(central_, 1);
    // Explain sits beside the activations: the same input and sample, why the model predicted it.
    centralTabs_ = new QTabWidget(this);
    centralTabs_->setObjectName("centralTabs");
    centralTabs_->setDocumentMode(true);
    centralTabs_->addTab(page, tr("Activations"));
    explain_ = new ExplainView(centralTabs_);
    centralTabs_->addTab(explain_, tr("Explain"));
    centralTabs_->setTabToolTip(0, tr("The shown module's feature maps or values (Ctrl+1)"));
    centralTabs_->setTabToolTip(1,
                                tr("Why the model predicted its class: class activation maps and input "
                                   "gradients on the compiled model (Ctrl+2)"));
    setCentralWidget(centralTabs_);
    connect(explain_, &ExplainView::failed, this, [this](const QString& message) {
        if (!jobs_->isRunning())
            statusText_->setText(message);
    });

    connect(sampleBox_, &QSpinBox::valueChanged, this, [this] {
        refreshCentralView();
        showModelOutput();
        if (outcome_)
            explain_->setRun(model_, outcome_, sampleBox_->value());
    });
    connect(featureMaps_, &FeatureMapView::hovered, this, [this](const QString& text) {
        if (!jobs_->isRunning())
            statusText_->setText(text);
    });
    connect(featureMaps_, &FeatureMapView::channelActivated, this, &MainWindow::showChannel);
}

void MainWindow::createDocks()
{
    auto dock = [this](const QString& title, const QString& name, QWidget* widget, Qt::DockWidgetArea area) {
        auto* d = new QDockWidget(title, this);
        d->setObjectName(name); // for saveState
        // Scrollable, so that docks shrink below their contents' size on a small screen.
        auto* scroll = new QScrollArea(d);
        scroll->setWidgetResizable(true);
        scroll->setFrameShape(QFrame::NoFrame);
        scroll->setWidget(widget);
        d->setWidget(scroll);
        addDockWidget(area, d);
        return d;
    };

    auto* modules = new QWidget(this);
    auto* layout = new QVBoxLayout(modules);
    auto* filterRow = new QHBoxLayout;
    filterEdit_ = new QLineEdit(modules);
    filterEdit_->setObjectName("moduleFilter");
    filterEdit_->installEventFilter(this); // the window's shortcuts work while typing a filter
    filterEdit_->setPlaceholderText(tr("Filter by name or type (Ctrl+F)"));
    filterEdit_->setClearButtonEnabled(true);
    regexBox_ = new QCheckBox(tr("Regex"), modules);
    regexBox_->setToolTip(tr("Treat the filter as a regular expression"));
    filterRow->addWidget(filterEdit_);
    filterRow->addWidget(regexBox_);
    treeView_ = new ModuleTreeView(modules);
    treeView_->setModel(filter_);
    layout->addLayout(filterRow);
    layout->addWidget(treeView_);
    auto* modulesDock = dock(tr("Modules"), "modules", modules, Qt::LeftDockWidgetArea);

    auto applyFilter = [this] {
        filter_->setPattern(filterEdit_->text(), regexBox_->isChecked());
        filterEdit_->setStyleSheet(filter_->isValidPattern() ? QString() : QStringLiteral("color: #c0392b;"));
        if (!filterEdit_->text().isEmpty())
            treeView_->expandAll();
    };
    connect(filterEdit_, &QLineEdit::textChanged, this, applyFilter);
    connect(regexBox_, &QCheckBox::toggled, this, applyFilter);
    connect(treeView_->selectionModel(), &QItemSelectionModel::currentChanged, this, [this](const QModelIndex& index) {
        if (index.isValid())
            showModule(index.data(ModuleTreeModel::QualifiedNameRole).toString());
    });
    connect(treeView_, &QTreeView::customContextMenuRequested, this, [this](const QPoint& at) {
        const QModelIndex index = treeView_->indexAt(at);
        QMenu menu(this);
        if (index.isValid()) {
            const QString type = index.data(ModuleTreeModel::TypeNameRole).toString();
            const QString name = index.data(ModuleTreeModel::QualifiedNameRole).toString();
            // Checking a parent's box checks its whole subtree (37 arrays for five modules of resnet18):
            // "only" exports the module itself.
            menu.addAction(tr("Check %1 only").arg(name), this,
                           [this, name] { treeModel_->setModuleChecked(name, true, false); });
            menu.addAction(tr("Check %1 with its children").arg(name), this,
                           [this, name] { treeModel_->setModuleChecked(name, true, true); });
            menu.addAction(tr("Check every %1").arg(type), this, [this, type] { treeModel_->checkAllOfType(type); });
            menu.addAction(tr("Explain the prediction at %1").arg(name), this, [this, name] { showExplain(name); });
        }
        menu.addAction(tr("Uncheck all"), this, [this] { treeModel_->setCheckedModules({}); });
        menu.addAction(tr("Expand all"), treeView_, &QTreeView::expandAll);
        menu.exec(treeView_->viewport()->mapToGlobal(at));
    });

    inputs_ = new InputPanel(this);
    auto* inputsDock = dock(tr("Inputs"), "inputs", inputs_, Qt::RightDockWidgetArea);
    connect(inputs_, &InputPanel::inputsChanged, this, &MainWindow::runNow);
    output_ = new OutputPanel(this);
    connect(output_, &OutputPanel::classActivated, this, [this](int classIndex) {
        explain_->explainClass(classIndex);
        showExplain();
    });
    auto* outputDock = dock(tr("Model output"), "output", output_, Qt::RightDockWidgetArea);
    statistics_ = new StatisticsPanel(this);
    auto* statisticsDock = dock(tr("Statistics"), "statistics", statistics_, Qt::RightDockWidgetArea);
    tabifyDockWidget(outputDock, statisticsDock);
    outputDock->raise();
    // First launch on 1280 px: the tree's names, shapes and calls; the inputs at a readable width.
    resizeDocks({modulesDock, inputsDock}, {370, 270}, Qt::Horizontal);
}

void MainWindow::createActions()
{
    auto* fileMenu = menuBar()->addMenu(tr("&File"));
    auto* toolbar = addToolBar(tr("Main"));
    toolbar->setObjectName("main toolbar");

    auto* openModelAction = fileMenu->addAction(tr("&Open Model…"), this, [this] {
        const QString path = QFileDialog::getOpenFileName(this, tr("Open a model"), {},
                                                          tr("Models (*.pt *.pth *.ptl *.torchscript *.onnx);;"
                                                             "TorchScript models (*.pt *.pth *.ptl *.torchscript);;"
                                                             "ONNX models (*.onnx);;All files (*)"));
        if (!path.isEmpty())
            openModel(path);
    });
    openModelAction->setShortcut(QKeySequence::Open);
    openModelAction->setToolTip(tr("Open a model saved with torch.jit.save or torch.onnx.export (Ctrl+O)"));
    auto* openImage = fileMenu->addAction(tr("Open &Image…"), this, [this] {
        const QString path = QFileDialog::getOpenFileName(
            this, tr("Open an input"), {},
            tr("Images and tensors (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp *.npy)"));
        if (!path.isEmpty()) {
            inputs_->setInputs({path});
            runNow();
        }
    });
    openImage->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_I));
    openImage->setToolTip(tr("Run an image through the model (Ctrl+I)"));
    recentMenu_ = fileMenu->addMenu(tr("Recent Models"));
    auto* examples = fileMenu->addMenu(tr("E&xamples"));
    examples->addAction(tr("Fashion-MNIST demo"), this, &MainWindow::openDemo);
    examples->addAction(tr("Seed CNN (1x101x101)"), this, [this] {
        openModel(examplesFolder() + "/seed_cnn.pt", {demoImage()}, Preprocessing::gray(101));
    });
    examples->addAction(tr("Seed nested model (two inputs)"), this, [this] {
        const QStringList images = QDir(demoFolder() + "/images").entryList({"*.png"}, QDir::Files, QDir::Name);
        openModel(examplesFolder() + "/seed_nested.pt",
                  {demoFolder() + "/images/" + images.value(0), demoFolder() + "/images/" + images.value(1)},
                  Preprocessing::gray(101));
    });
    fileMenu->addAction(tr("Load &Labels…"), this, [this] {
        const QString path
            = QFileDialog::getOpenFileName(this, tr("Class names, one a line"), {}, tr("Text (*.txt);;All files (*)"));
        if (path.isEmpty())
            return;
        labels_ = readLabelsFile(path);
        output_->setLabels(labels_);
        explain_->setLabels(labels_);
        ModelSettings(currentModelPath()).setLabelsFile(path);
        refreshCentralView();
    });
    fileMenu->addSeparator();
    auto* exportChecked
        = fileMenu->addAction(tr("&Export Checked Modules…"), this, [this] { exportCheckedDialog(false); });
    exportChecked->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_E));
    exportChecked->setToolTip(tr("Write the checked modules' activations for the current input (Ctrl+E)"));
    auto* exportFolder
        = fileMenu->addAction(tr("Export Checked Modules for a &Folder…"), this, [this] { exportCheckedDialog(true); });
    exportFolder->setToolTip(tr("Run every image of a folder and write the checked modules' activations"));
    auto* exportView = fileMenu->addAction(tr("Export &View…"), this, &MainWindow::exportViewDialog);
    exportView->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_E));
    fileMenu->addSeparator();
    addAtlasActions(fileMenu); // mainwindow_atlas.cpp
    exportView->setToolTip(tr("Save what is on screen: the grid as PNG, plots as PNG or PDF (Ctrl+Shift+E)"));
    fileMenu->addSeparator();
    fileMenu->addAction(tr("&Quit"), this, &QWidget::close)->setShortcut(QKeySequence::Quit);

    auto* runMenu = menuBar()->addMenu(tr("&Run"));
    auto* run = runMenu->addAction(tr("&Run"), this, &MainWindow::runNow);
    run->setShortcut(QKeySequence(Qt::Key_F5));
    run->setToolTip(tr("Run the inputs through the model again (F5)"));
    auto* cancel = runMenu->addAction(tr("&Cancel"), this, &MainWindow::cancelWork);
    cancel->setShortcut(QKeySequence(Qt::Key_Escape));
    auto* find = runMenu->addAction(tr("&Find Module"), this, [this] {
        filterEdit_->setFocus();
        filterEdit_->selectAll();
    });
    find->setShortcut(QKeySequence::Find);

    toolbar->addAction(openModelAction);
    toolbar->addAction(openImage);
    toolbar->addAction(run);
    toolbar->addSeparator();
    toolbar->addAction(exportChecked);
    toolbar->addAction(exportView);

    viewMenu_ = menuBar()->addMenu(tr("&View"));
    for (QDockWidget* d : findChildren<QDockWidget*>())
        viewMenu_->addAction(d->toggleViewAction());
    viewMenu_->addAction(tr("Fit Feature Maps to Window"), featureMaps_, &FeatureMapView::fitToWindow)
        ->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_0));
    viewMenu_->addSeparator();
    viewMenu_->addAction(tr("&Activations"), this, [this] { centralTabs_->setCurrentIndex(0); })
        ->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_1));
    viewMenu_->addAction(tr("&Explain the Prediction"), this, [this] { showExplain(); })
        ->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_2));

    auto* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About LayerScope"), this, [this] {
        QMessageBox::about(this, tr("About LayerScope"),
                           tr("<b>LayerScope %1</b><p>A microscope for PyTorch models: every layer's activations, "
                              "captured exactly as PyTorch's forward hooks would.</p>")
                               .arg(QString::fromStdString(layerscopeVersion())));
    });
}

void MainWindow::openDemo()
{
    if (pendingModule_.isEmpty())
        pendingModule_ = QStringLiteral("features.0");
    openModel(demoFolder() + "/fashion_cnn.pt", {demoImage()}, Preprocessing::gray(28)); // labels.txt is beside it
}

void MainWindow::openModel(const QString& path, const QStringList& inputs, const Preprocessing& preprocessing)
{
    ModelSettings(path).setPreprocessing(preprocessing);
    openModel(path, inputs);
}

void MainWindow::openModel(const QString& path, const QStringList& inputs)
{
    const JobControl job = jobs_->start(JobTracker::Kind::Load, tr("Opening %1…").arg(QFileInfo(path).fileName()));
    const QString absolute = QFileInfo(path).absoluteFilePath();
    pendingInputs_ = inputs;
    pendingPath_ = absolute;
    const bool trust = absolute == trustOnce_;
    trustOnce_.clear();
    QMetaObject::invokeMethod(worker_,
                              [worker = worker_, job, absolute, trust] { worker->loadModel(job, absolute, trust); });
}

void MainWindow::onModelLoaded(quint64 job, std::shared_ptr<const Model> model)
{
    jobs_->finish(job);
    if (!jobs_->isCurrent(JobTracker::Kind::Load, job))
        return; // a newer model was asked for
    model_ = std::move(model);
    atlasDock_->view()->setModel(model_); // the atlas's own model draws the channel's map over its patches
    inputsWanted_.clear();                // module names of the previous model
    outcome_.reset();
    captures_.clear();
    // Nothing of the previous model stays on screen: its module, statistics, plots and colour bar.
    shownModule_.clear();
    statistics_->showMessage(QString(), QString());
    featureMapControls_->clearColorScale();
    plots_->setActivation({}, 0);
    const QString path = pendingPath_;
    // Expanded modules stay expanded when the same (or a retrained) model is opened again.
    QStringList expanded;
    for (const QString& name : treeModel_->moduleNames()) {
        if (treeView_->isExpanded(filter_->mapFromSource(treeModel_->indexOfModule(name))))
            expanded << name;
    }
    treeModel_->setModules(model_->modules());
    treeView_->expandToDepth(0);
    for (const QString& name : std::as_const(expanded)) {
        const QModelIndex index = filter_->mapFromSource(treeModel_->indexOfModule(name));
        if (index.isValid())
            treeView_->expand(index);
    }
    inputs_->setArguments(model_->forwardArguments());
    const ModelSettings remembered(path);
    inputs_->setPreprocessing(remembered.preprocessing().value_or(ModelSettings::guessFromModel(
        model_->imageChannelsHint(),
        model_->forwardArguments().empty() ? std::vector<std::int64_t>() : model_->forwardArguments()[0].shape)));
    inputs_->setInputs(pendingInputs_.isEmpty() ? remembered.inputs() : pendingInputs_);
    labels_ = readLabelsFile(remembered.labelsFile());
    output_->setLabels(labels_);
    output_->clear();
    explain_->clear();
    explain_->setLabels(labels_);
    featureMaps_->clear();
    message_->setText(tr("Choose an input for each of the model's arguments (%1), then Run (F5)")
                          .arg(QString::fromStdString(model_->signature())));
    central_->setCurrentWidget(message_);
    setWindowTitle(tr("%1 — LayerScope").arg(QFileInfo(path).fileName()));
    modelPath_ = path;
    addRecentModel(path);
    errorBar_->hide();
    setIdle(tr("%1: %2 modules, %3")
                .arg(QFileInfo(path).fileName())
                .arg(model_->modules().size())
                .arg(QString::fromStdString(model_->signature())));
    jobs_->supersede(JobTracker::Kind::Run); // a run of the previous model must not land on this one
    emit modelReady();
    runNow();
}

QTreeView* MainWindow::moduleView() const { return treeView_; }

QString MainWindow::currentModelPath() const { return modelPath_; }

void MainWindow::runNow()
{
    if (!model_)
        return;
    const QStringList inputs = inputs_->inputs();
    for (const QString& input : inputs) {
        if (input.isEmpty())
            return; // not every argument has an input yet
    }
    ModelSettings remembered(currentModelPath());
    remembered.setInputs(inputs_->sources());
    remembered.setPreprocessing(inputs_->preprocessing());
    errorBar_->hide();
    const JobControl job
        = jobs_->start(JobTracker::Kind::Run, tr("Running %1…").arg(QFileInfo(inputs.value(0)).fileName()));
    QMetaObject::invokeMethod(worker_,
                              [worker = worker_, job, model = model_, inputs, preprocessing = inputs_->preprocessing(),
                               inputsOf = QStringList(inputsWanted_.begin(), inputsWanted_.end())] {
                                  worker->runInputs(job, model, inputs, preprocessing, inputsOf);
                              });
}

void MainWindow::onRunFinished(quint64 job, std::shared_ptr<const RunOutcome> outcome)
{
    jobs_->finish(job);
    if (!jobs_->isCurrent(JobTracker::Kind::Run, job))
        return; // a stale run: the inputs or the model changed since
    outcome_ = std::move(outcome);
    setViewStale(false);
    captures_.clear();
    QHash<QString, QString> shapes;
    QHash<QString, int> calls;
    for (const auto* list : {&outcome_->result.captures, &outcome_->result.outputs}) {
        for (const Capture& capture : *list) {
            const QString key = QString::fromStdString(capture.key);
            captures_[key] = &capture;
            const QString module
                = capture.module.empty() ? QStringLiteral("output") : QString::fromStdString(capture.module);
            if (capture.call == 0 && !shapes.contains(module))
                shapes.insert(module, QString::fromStdString(shapeToString(capture.tensor.shape)));
            calls[module] = std::max(calls.value(module), capture.call + 1);
        }
    }
    for (const auto& skipped : outcome_->result.skipped) {
        const QString key = QString::fromStdString(skipped.key);
        const QString module = key.left(key.indexOf(QRegularExpression(QStringLiteral("[\\[:>]"))));
        calls[module] = std::max(calls.value(module), 1);
    }
    treeModel_->setRunInfo(shapes, calls);
    if (!outcome_->modelInputs.empty())
        inputs_->showPreview(outcome_->modelInputs.front());
    if (!outcome_->modelInputs.empty() && !outcome_->modelInputs.front().shape.empty())
        sampleBox_->setMaximum(int(outcome_->modelInputs.front().shape[0]) - 1);
    showModelOutput();
    explain_->setRun(model_, outcome_, sampleBox_->value());
    setIdle(tr("Ran %1: %2 captures").arg(QFileInfo(outcome_->inputs.value(0)).fileName()).arg(captures_.size()));
    if (!pendingModule_.isEmpty()) {
        // A module's name or any capture key of it (feature_model:1, fc>in, enc[0]).
        const QString key = pendingModule_;
        const QModelIndex index = filter_->mapFromSource(treeModel_->indexOfModule(moduleOfCaptureKey(key)));
        pendingModule_.clear();
        if (index.isValid()) {
            treeView_->setCurrentIndex(index); // shows the module
            treeView_->scrollTo(index);
            if (key != moduleOfCaptureKey(key))
                showCapture(key);
        } else {
            QString message
                = tr("no module '%1' in %2").arg(moduleOfCaptureKey(key), QFileInfo(currentModelPath()).fileName());
            const auto close = model_->closestModuleNames(moduleOfCaptureKey(key).toStdString());
            for (std::size_t i = 0; i < close.size(); ++i)
                message
                    += (i ? QStringLiteral(", '") : tr("; did you mean '")) + QString::fromStdString(close[i]) + "'";
            showError(message + (close.empty() ? QString() : QStringLiteral("?")));
        }
    }
    if (shownModule_.isEmpty()) {
        shownModule_ = defaultModule();
        const QModelIndex index = filter_->mapFromSource(treeModel_->indexOfModule(shownModule_));
        if (index.isValid()) { // selected and highlighted, as if clicked
            treeView_->setCurrentIndex(index);
            treeView_->scrollTo(index);
        }
    }
    refreshCentralView();
    emit runReady();
}

// What a model shows first: its first convolution that ran, else the first module that ran.
QString MainWindow::defaultModule() const
{
    QString firstThatRan;
    for (const auto& m : model_->modules()) {
        const QString name = QString::fromStdString(m.name);
        if (name.isEmpty() || !captures_.count(name))
            continue;
        if (m.typeName.find("Conv") != std::string::npos)
            return name;
        if (firstThatRan.isEmpty())
            firstThatRan = name;
    }
    return firstThatRan;
}

// The model's output for the sample chosen in the sample box, as the views show it.
void MainWindow::showModelOutput()
{
    const auto output = captures_.find(QStringLiteral("output"));
    if (output == captures_.end())
        return;
    const Tensor& tensor = output->second->tensor;
    const int last = tensor.shape.empty() ? 0 : int(tensor.shape[0]) - 1;
    output_->showOutput(tensor, std::clamp(sampleBox_->value(), 0, std::max(0, last)));
}

void MainWindow::showCapture(const QString& key)
{
    shownModule_ = key;
    const QString module = moduleOfCaptureKey(key);
    if (key.contains(QLatin1String(">in")) && captures_.find(key) == captures_.end()
        && !inputsWanted_.contains(module)) {
        inputsWanted_.insert(module); // not recorded yet: run again with this module's inputs
        runNow();
        return;
    }
    refreshCentralView();
}

void MainWindow::showModule(const QString& qualifiedName)
{
    shownModule_ = qualifiedName;
    refreshCentralView();
}

QString MainWindow::viewHeader() const { return viewHeader_->text(); }

bool MainWindow::isViewStale() const { return !central_->isEnabled(); }

QString MainWindow::centralMessage() const
{
    return central_->currentWidget() == message_ ? message_->text() : QString();
}

void MainWindow::refreshCentralView()
{
    if (!outcome_ || shownModule_.isNull())
        return;
    const QString name = shownModule_.isEmpty() ? QStringLiteral("output") : shownModule_;
    auto it = captures_.find(name);
    if (it == captures_.end())
        it = captures_.find(name + "[0]");
    if (it == captures_.end()) {
        const QString why = notRunReason(*model_, outcome_->result, name);
        viewHeader_->setText(QStringLiteral("<b>%1</b>").arg(name.toHtmlEscaped()));
        message_->setText(why);
        central_->setCurrentWidget(message_);
        statistics_->showMessage(name, why);
        return;
    }
    QStringList calls; // the shown module's captures, for the call selector
    const QString module = moduleOfCaptureKey(it->first);
    for (const auto* list : {&outcome_->result.captures, &outcome_->result.outputs})
        for (const Capture& capture : *list) {
            const QString key = QString::fromStdString(capture.key);
            if (moduleOfCaptureKey(key) == module)
                calls << key;
        }
    if (!module.isEmpty() && module != QLatin1String("output") && !calls.contains(module + ">in"))
        calls << module + ">in"; // recorded on demand: choosing it runs again with this module's inputs
    callBox_->setCaptures(calls, it->first);
    Tensor tensor = it->second->tensor;
    // [N, C, 1, 1] (after a global pooling) is a vector of C values, not C one-pixel tiles.
    if (tensor.shape.size() == 4 && tensor.shape[2] == 1 && tensor.shape[3] == 1)
        tensor.shape = {tensor.shape[0], tensor.shape[1]};
    const int sample = std::min<int>(sampleBox_->value(), tensor.shape.empty() ? 0 : int(tensor.shape[0]) - 1);
    featureMapControls_->setVisible(tensor.shape.size() == 4); // only with feature maps
    if (tensor.shape.size() == 4) {
        featureMaps_->setActivation(tensor, sample); // one drawing per click
        central_->setCurrentWidget(featureMaps_);
    } else if (!tensor.shape.empty()) {
        plots_->setHistogramOnly(false);
        plots_->setActivation(tensor, sample);
        central_->setCurrentWidget(plots_);
    } else {
        message_->setText(tr("'%1' is a scalar: %2").arg(name).arg(valuesAsDoubles(tensor).front()));
        central_->setCurrentWidget(message_);
    }
    const Tensor shownSample = tensor.shape.empty() ? tensor : sampleOf(tensor, sample);
    statistics_->show(it->first, shownSample);
    viewHeader_->setText(viewHeaderText(it->first, *it->second, shownSample));
}

QString MainWindow::viewHeaderText(const QString& key, const Capture& capture, const Tensor& sample) const
{
    const int index = model_->findModule(capture.module);
    const QString type
        = index >= 0 ? QString::fromStdString(model_->modules()[std::size_t(index)].typeName) : tr("model output");
    const TensorStatistics s = computeStatistics(sample);
    QString text = tr("<b>%1</b> %2 · call %3 · %4 %5 · sample %6: min %7, max %8, mean %9, std %10")
                       .arg(key.toHtmlEscaped(), type.toHtmlEscaped())
                       .arg(capture.call)
                       .arg(QString::fromStdString(shapeToString(capture.tensor.shape)),
                            QString::fromStdString(dtypeName(capture.tensor.dtype)))
                       .arg(sampleBox_->value())
                       .arg(s.min, 0, 'g', 4)
                       .arg(s.max, 0, 'g', 4)
                       .arg(s.mean, 0, 'g', 4)
                       .arg(s.std, 0, 'g', 4);
    text += tr(", zeros %1%").arg(100 * s.zeroFraction, 0, 'f', 1);
    if (s.nanCount || s.infCount)
        text += tr(" · <span style='color:#e74c3c'>%1 NaN, %2 Inf</span>").arg(s.nanCount).arg(s.infCount);
    return text;
}

void MainWindow::showChannel(int channel)
{
    const Tensor& capture = featureMaps_->activation();
    if (capture.shape.size() != 4)
        return;
    // One channel as a [1, 1, H, W] activation in the histogram-and-grid views of a small window.
    const std::int64_t h = capture.shape[2], w = capture.shape[3];
    Tensor one = sampleOf(capture, featureMaps_->sample());
    one.shape = {1, 1, h, w};
    one.data
        = std::shared_ptr<const void>(capture.data,
                                      static_cast<const char*>(one.data.get())
                                          + std::size_t(channel) * std::size_t(h * w) * elementSize(capture.dtype));
    const QImage input
        = outcome_ && !outcome_->modelInputs.empty() ? tensorToImage(outcome_->modelInputs.front()) : QImage();
    auto* dialog = new ChannelDialog(tr("%1, channel %2").arg(shownModule_).arg(channel), one, channel,
                                     featureMaps_->gridOptions().colormap, input, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    connect(dialog, &ChannelDialog::failed, this, &MainWindow::showError);
    dialog->show();
}

// A line edit takes Ctrl+E (end of line) for itself; in the filter box the window's Export wins.
bool MainWindow::eventFilter(QObject* watched, QEvent* event)
{
    if (watched == filterEdit_ && event->type() == QEvent::ShortcutOverride) {
        const auto* key = static_cast<QKeyEvent*>(event);
        if (key->key() == Qt::Key_E && (key->modifiers() & Qt::ControlModifier)) {
            event->ignore();
            return true;
        }
    }
    return QMainWindow::eventFilter(watched, event);
}

// Where file dialogs start: the folder used last, remembered across sessions.
QString MainWindow::lastFolder() const { return QSettings().value("dialogs/lastFolder", QDir::homePath()).toString(); }

void MainWindow::rememberFolder(const QString& path)
{
    QSettings().setValue("dialogs/lastFolder", QFileInfo(path).isDir() ? path : QFileInfo(path).absolutePath());
}

void MainWindow::exportCheckedDialog(bool folder)
{
    // Said before any dialog opens, not after the user picked a file.
    if (!model_)
        return showError(tr("Open a model first"));
    const QStringList checked = treeModel_->checkedModules();
    if (checked.isEmpty())
        return showError(tr("Nothing to export: check modules in the Modules tree first"));
    // A default name that says what is inside: model and module ("resnet18-layer4.npz").
    const QString what = checked.size() == 1 ? checked.first() : tr("%1-modules").arg(checked.size());
    const QString name = QFileInfo(currentModelPath()).completeBaseName() + "-" + what + ".npz";
    const QString filters
        = tr("NumPy archive (*.npz);;HDF5 (*.h5);;MATLAB (*.mat);;PyTorch (*.pt);;CSV (*.csv);;Channel grids (*.png);;"
             "Folder of .npy files (*)");
    if (folder) { // a folder per forward argument, how much will be written, and where
        QStringList arguments;
        for (const auto& argument : model_->forwardArguments())
            arguments << QString::fromStdString(argument.name);
        const QStringList sources = inputs_->sources();
        auto* dialog = new ExportFolderDialog(arguments.mid(0, sources.size()), sources,
                                              estimateExport(outcome_ ? outcome_->result : RunResult(), checked),
                                              QDir(lastFolder()).filePath(name), filters, this);
        dialog->setObjectName(QStringLiteral("exportFolderDialog"));
        dialog->setAttribute(Qt::WA_DeleteOnClose);
        connect(dialog, &QDialog::accepted, this, [this, dialog] {
            rememberFolder(dialog->outputPath());
            exportChecked(dialog->outputPath(), dialog->inputs(), dialog->streams());
        });
        dialog->open();
        return;
    }
    const QString path = QFileDialog::getSaveFileName(this, tr("Export the checked modules"),
                                                      QDir(lastFolder()).filePath(name), filters);
    if (path.isEmpty())
        return;
    rememberFolder(path);
    exportChecked(path);
}

void MainWindow::exportChecked(const QString& outputPath, const QStringList& inputs, int streams)
{
    if (!model_)
        return showError(tr("Open a model first"));
    const QStringList checked = treeModel_->checkedModules();
    if (checked.isEmpty())
        return showError(tr("Check the modules to export in the Modules tree first"));
    ExtractionJob job;
    for (const QString& input : inputs.isEmpty() ? inputs_->inputs() : inputs)
        job.inputs.push_back(input.toStdString());
    job.preprocessing = inputs_->preprocessing();
    for (const QString& name : checked)
        job.request.outputsOf.push_back(name.toStdString());
    job.outputPath = outputPath.toStdString();
    job.streams = streams;
    job.exportOptions.grid = featureMaps_->gridOptions();
    job.exportOptions.grid.channelOrder.clear();
    job.exportOptions.grid.gapColor = GridOptions().gapColor; // files get white gaps, whatever the theme
    const JobControl control
        = jobs_->start(JobTracker::Kind::Export,
                       tr("Exporting %1 modules to %2").arg(checked.size()).arg(QFileInfo(outputPath).fileName()));
    QMetaObject::invokeMethod(
        worker_, [worker = worker_, control, model = model_, job] { worker->extract(control, model, job); });
}

void MainWindow::onExtractionFinished(quint64 job, std::shared_ptr<const ExtractionResult> result)
{
    jobs_->finish(job);
    const QString summary
        = tr("%1 %2 rows of %3 arrays to %4%5")
              .arg(result->cancelled ? tr("Cancelled: wrote") : tr("Wrote"))
              .arg(result->rows)
              .arg(result->captures.size())
              .arg(QString::fromStdString(result->outputPath))
              .arg(result->skippedInputs.empty() ? QString()
                                                 : tr(", %1 inputs skipped").arg(result->skippedInputs.size()));
    setIdle(summary);
    emit exportFinished(summary);
}

void MainWindow::exportViewDialog()
{
    const bool grid = central_->currentWidget() == featureMaps_;
    const QString name = QFileInfo(currentModelPath()).completeBaseName() + "-"
        + (shownModule_.isEmpty() ? "output" : shownModule_) + (grid ? "-maps.png" : "-plot.png");
    const QString path = QFileDialog::getSaveFileName(this, tr("Export the view"), QDir(lastFolder()).filePath(name),
                                                      tr("PNG (*.png);;PDF (*.pdf);;SVG (*.svg)"));
    if (path.isEmpty())
        return;
    rememberFolder(path);
    exportView(path);
}

void MainWindow::showExplain(const QString& target)
{
    centralTabs_->setCurrentWidget(explain_);
    if (!target.isEmpty())
        explain_->setTarget(target);
}

bool MainWindow::exportView(const QString& path)
{
    if (centralTabs_->currentWidget() == explain_) {
        const bool ok
            = path.endsWith(".npy", Qt::CaseInsensitive) ? explain_->exportMaps(path) : explain_->exportImage(path);
        if (!ok)
            showError(tr("%1: cannot write the explanation (PNG or .npy; is a map shown?)").arg(path));
        emit viewSaved(path, ok);
        return ok;
    }
    if (central_->currentWidget() == featureMaps_) {
        const Tensor& capture = featureMaps_->activation();
        const GridOptions& options = featureMaps_->gridOptions();
        GridPicture picture;
        picture.grid = featureMaps_->gridImage();
        picture.layout = gridLayout(capture.shape[1], int(capture.shape[3]), int(capture.shape[2]), options);
        picture.channelOrder = options.channelOrder;
        picture.title = tr("%1  %2 %3, sample %4")
                            .arg(shownModule_, QString::fromStdString(shapeToString(capture.shape)),
                                 QString::fromStdString(dtypeName(capture.dtype)))
                            .arg(featureMaps_->sample());
        picture.colormap = options.colormap;
        const TensorStatistics range = computeStatistics(sampleOf(capture, featureMaps_->sample()));
        picture.low = range.min;
        picture.high = range.max;
        picture.perChannel = options.normalization == Normalization::PerChannel;
        // Encoding a large grid takes 0.2 to 0.4 s (PNG or PDF of 4000 x 4000): a worker does it, on
        // images and writers that need no GUI thread, and the window hears back.
        QPointer<MainWindow> self(this);
        statusBar()->showMessage(tr("Saving %1…").arg(path));
        QThreadPool::globalInstance()->start([self, picture, path] {
            const bool saved = saveGridPicture(picture, path);
            QMetaObject::invokeMethod(qApp, [self, path, saved] {
                if (self)
                    self->onViewSaved(path, saved);
            });
        });
        return true;
    }
    const bool ok = savePlot(plots_->histogramPlot(), path); // QCustomPlot draws on the GUI thread only
    onViewSaved(path, ok);
    return ok;
}

void MainWindow::onViewSaved(const QString& path, bool ok)
{
    if (ok)
        setIdle(tr("Saved %1").arg(path));
    else
        showError(tr("%1: cannot write").arg(path));
    emit viewSaved(path, ok);
}

void MainWindow::onFailed(quint64 job, const QString& message)
{
    jobs_->finish(job);
    const bool load = jobs_->isCurrent(JobTracker::Kind::Load, job), run = jobs_->isCurrent(JobTracker::Kind::Run, job),
               exporting = jobs_->isCurrent(JobTracker::Kind::Export, job);
    if (load || run || exporting) {
        setIdle(load ? tr("Could not open the model") : run ? tr("The run failed") : tr("The export failed"));
        showError(message);
        // What is on screen belongs to the last run that worked, not to these inputs: greyed out
        // until the next run succeeds.
        if (run)
            setViewStale(true);
    }
}

void MainWindow::setViewStale(bool stale)
{
    central_->setEnabled(!stale);
    viewHeader_->setEnabled(!stale);
    central_->setToolTip(stale ? tr("From the last run that worked: the current inputs failed (see the red bar)")
                               : QString());
}

void MainWindow::onCancelled(quint64 job)
{
    const bool shown = jobs_->isCurrent(JobTracker::Kind::Load, job) || jobs_->isCurrent(JobTracker::Kind::Run, job)
        || jobs_->isCurrent(JobTracker::Kind::Export, job);
    jobs_->finish(job);
    if (shown)
        setIdle(tr("Cancelled"));
}

// A model whose code reaches outside it (files, network): nothing of it has run. Asked without
// blocking (open(), not exec()), so the loop keeps running and tests can answer; the model loaded
// before stays unless the user opens this one anyway.
void MainWindow::onUntrusted(quint64 job, const UntrustedModelError::Finding& finding)
{
    jobs_->finish(job);
    if (!jobs_->isCurrent(JobTracker::Kind::Load, job))
        return;
    const QString path = pendingPath_;
    const QStringList inputs = pendingInputs_;
    const QString name = QFileInfo(path).fileName();
    setIdle(tr("%1 was not opened").arg(name));
    const QString where = finding.method.empty() ? QString() : tr(" in %1").arg(QString::fromStdString(finding.method));
    const QString risk = finding.risk.empty() ? tr("do anything you can") : QString::fromStdString(finding.risk);
    auto* box = new QMessageBox(QMessageBox::Warning, tr("Open %1?").arg(name),
                                tr("This model's code %1%2. It can %3. Open it only if you trust its source.")
                                    .arg(QString::fromStdString(finding.usage), where, risk),
                                QMessageBox::Cancel, this);
    box->setObjectName(QStringLiteral("untrustedModelBox"));
    box->setInformativeText(tr("A TorchScript model is a program: it runs with your rights while it opens and runs. "
                               "%1, line %2.")
                                .arg(QString::fromStdString(finding.entry))
                                .arg(finding.line));
    QPushButton* openAnyway = box->addButton(tr("Open Anyway"), QMessageBox::AcceptRole);
    box->setDefaultButton(QMessageBox::Cancel);
    box->setAttribute(Qt::WA_DeleteOnClose);
    connect(box, &QMessageBox::finished, this, [this, box, openAnyway, path, inputs] {
        if (box->clickedButton() != openAnyway)
            return;
        trustOnce_ = path;
        openModel(path, inputs);
    });
    box->open();
}

void MainWindow::showError(const QString& message)
{
    errorBar_->setText(message);
    errorBar_->show();
    emit errorShown(message);
}

QString MainWindow::errorText() const { return errorBar_->isHidden() ? QString() : errorBar_->text(); }

void MainWindow::cancelWork()
{
    jobs_->cancelShown(); // each job checks its own token: a forward at its next module, an export per batch
}

bool MainWindow::isBusy() const { return jobs_->isRunning(); }

QString MainWindow::statusText() const { return statusText_->text(); }

// The status bar follows the job tracker: what runs, its progress, and Cancel while it can.
void MainWindow::showJobs()
{
    if (!jobs_->isRunning()) {
        progress_->hide();
        cancelButton_->hide();
        return;
    }
    statusText_->setText(jobs_->statusText());
    const qint64 total = jobs_->progressTotal();
    progress_->setRange(0, int(total)); // 0..0: a busy indicator until the first report
    progress_->setValue(int(jobs_->progressDone()));
    progress_->show();
    cancelButton_->setVisible(jobs_->canCancel());
}

// A job's closing message, unless another job is still running (its status stays).
void MainWindow::setIdle(const QString& message)
{
    if (!message.isEmpty() && !jobs_->isRunning())
        statusText_->setText(message);
}

void MainWindow::addRecentModel(const QString& path)
{
    QSettings settings;
    QStringList recent = settings.value("recentModels").toStringList();
    recent.removeAll(path);
    recent.prepend(path);
    settings.setValue("recentModels", recent.mid(0, 10));
    rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu()
{
    recentMenu_->clear();
    const QStringList recent = QSettings().value("recentModels").toStringList();
    for (const QString& path : recent)
        recentMenu_->addAction(QFileInfo(path).fileName(), this, [this, path] { openModel(path); })->setToolTip(path);
    recentMenu_->setEnabled(!recent.isEmpty());
}

void MainWindow::closeEvent(QCloseEvent* event)
{
    QSettings settings;
    settings.setValue("window/geometry", saveGeometry());
    settings.setValue("window/state", saveState());
    QMainWindow::closeEvent(event);
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event)
{
    if (event->mimeData()->hasUrls())
        event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event)
{
    QStringList inputs;
    QString model;
    for (const QUrl& url : event->mimeData()->urls()) {
        const QString path = url.toLocalFile();
        if (isModelFile(path))
            model = path;
        else if (!path.isEmpty())
            inputs << path;
    }
    if (!model.isEmpty()) {
        openModel(model, inputs);
    } else if (!inputs.isEmpty()) {
        inputs_->setInputs(inputs);
        runNow();
    }
    event->acceptProposedAction();
}

} // namespace layerscope::ui
