#pragma once

#include "engineworker.h"
#include "jobtracker.h"
#include "layerscope/atlas.h"

#include <QMainWindow>
#include <QPointer>
#include <QSet>
#include <QThread>

#include <map>

class QComboBox;
class QLabel;
class QLineEdit;
class QCheckBox;
class QMenu;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QStackedWidget;
class QTabWidget;
class QTreeView;

namespace layerscope::ui {

class ActivationPlots;
class ExplainView;
class AtlasDock;
class CallSelector;
class FeatureMapControls;
class FeatureMapView;
class ModuleTreeView;
class InputPanel;
class ModuleFilterProxy;
class ModuleTreeModel;
class OutputPanel;
class StatisticsPanel;

// Wires the docks (modules, inputs, statistics, model output) around the central view, the
// actions and the engine worker together. The views do their own drawing.
class MainWindow : public QMainWindow {
    Q_OBJECT

public:
    // The shown feature map's channel in its own window (as a double-click on its tile).
    void showChannel(int channel);
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    void openDemo();
    void openModel(const QString& path, const QStringList& inputs = {});
    // As above, with the preprocessing to remember for this model (the examples know theirs).
    void openModel(const QString& path, const QStringList& inputs, const Preprocessing& preprocessing);
    void runNow();
    // Writes the checked modules' activations for the current inputs (or `inputs`, e.g. a folder).
    // streams: batches side by side for a folder (ExtractionJob::streams; 0: the machine's default).
    void exportChecked(const QString& outputPath, const QStringList& inputs = {}, int streams = 0);
    void cancelWork();
    // Saves what is on screen: the grid as PNG, or the plot as PNG, PDF or SVG (by the extension).
    // The grid is encoded by a worker (a large one takes a moment): true means started, and viewSaved
    // says when it is written. Plots and the Explain tab are written at once (false: not written).
    bool exportView(const QString& path);
    void showModule(const QString& qualifiedName);
    // Any capture key: name, name:1, name[0], and name>in (its inputs, recorded by one more run).
    void showCapture(const QString& key);
    // The module to select once the next model's first run arrives.
    void selectAfterFirstRun(const QString& qualifiedName) { pendingModule_ = qualifiedName; }

    // For tests and scripting.
    ModuleTreeModel* moduleModel() const { return treeModel_; }
    JobTracker* jobTracker() const { return jobs_; }
    QSpinBox* sampleBox() const { return sampleBox_; }
    CallSelector* callSelector() const { return callBox_; }
    QString shownCapture() const { return shownModule_; }
    QString statusText() const;
    EngineWorker* engineWorker() const { return worker_; }
    QTreeView* moduleView() const;
    ModuleFilterProxy* filterProxy() const { return filter_; }
    FeatureMapView* featureMapView() const { return featureMaps_; }
    ActivationPlots* activationPlots() const { return plots_; }
    OutputPanel* outputPanel() const { return output_; }
    InputPanel* inputPanel() const { return inputs_; }
    AtlasDock* atlasDock() const { return atlasDock_; }
    ExplainView* explainView() const { return explain_; }
    // The Explain tab, beside the activations; `target` (a capture key) when not empty.
    void showExplain(const QString& target = {});
    // Builds an atlas with the model in the window, in the Atlas dock (progress, Cancel); opens it when written.
    void buildAtlas(const AtlasJob& job);
    // Opens `file` as the input and shows `capture`, then its channel `channel` (the atlas's double-click).
    void openAtlasImage(const QString& file, const QString& capture, int channel);
    QString errorText() const;
    QString currentModelPath() const;
    QString centralMessage() const;
    QString viewHeader() const; // the line over the view: capture, type, call, shape, dtype, statistics
    bool isViewStale() const;   // greyed out: the last run failed, the view shows the one before
    bool isBusy() const;

signals:
    void modelReady();
    void runReady();
    void exportFinished(const QString& summary);
    void viewSaved(const QString& path, bool ok); // each exportView's file, written or not
    void errorShown(const QString& message);

protected:
    void closeEvent(QCloseEvent* event) override;
    bool eventFilter(QObject* watched, QEvent* event) override;
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    void onViewSaved(const QString& path, bool ok);
    void createActions();
    void addAtlasActions(QMenu* fileMenu);
    void buildAtlasDialog();
    void createDocks();
    void createCentralView();
    void showError(const QString& message);
    void showJobs();
    void setIdle(const QString& message = {});
    void addRecentModel(const QString& path);
    void rebuildRecentMenu();
    void onModelLoaded(quint64 job, std::shared_ptr<const Model> model);
    void onRunFinished(quint64 job, std::shared_ptr<const RunOutcome> outcome);
    void onExtractionFinished(quint64 job, std::shared_ptr<const ExtractionResult> result);
    void onFailed(quint64 job, const QString& message);
    void onCancelled(quint64 job);
    void onUntrusted(quint64 job, const UntrustedModelError::Finding& finding);
    void refreshCentralView();
    void setViewStale(bool stale);
    QString viewHeaderText(const QString& key, const Capture& capture, const Tensor& sample) const;
    void showModelOutput();
    QString defaultModule() const;
    QString lastFolder() const;
    void rememberFolder(const QString& path);
    void exportCheckedDialog(bool folder);
    void exportViewDialog();

    QThread workerThread_;
    EngineWorker* worker_ = nullptr;
    JobTracker* jobs_ = nullptr;
    std::shared_ptr<const Model> model_;
    std::shared_ptr<const RunOutcome> outcome_;
    std::map<QString, const Capture*> captures_; // key -> capture of the last run
    QString shownModule_;
    QString pendingModule_;      // shown once the first run of a model arrives
    QSet<QString> inputsWanted_; // modules whose inputs the user asked to see: recorded in every run
    QString pendingPath_;        // the model being opened, and the inputs it gets
    QStringList pendingInputs_;
    QString modelPath_; // the model shown
    QString trustOnce_; // a model the user chose to open anyway: its next load skips the code check
    QStringList labels_;

    ModuleTreeModel* treeModel_;
    ModuleFilterProxy* filter_;
    ModuleTreeView* treeView_ = nullptr;
    QLineEdit* filterEdit_ = nullptr;
    QCheckBox* regexBox_ = nullptr;
    InputPanel* inputs_ = nullptr;
    StatisticsPanel* statistics_ = nullptr;
    OutputPanel* output_ = nullptr;
    QStackedWidget* central_ = nullptr;
    FeatureMapControls* featureMapControls_ = nullptr;
    FeatureMapView* featureMaps_ = nullptr;
    ActivationPlots* plots_ = nullptr;
    QLabel* message_ = nullptr;
    QLabel* errorBar_ = nullptr;
    QLabel* viewHeader_ = nullptr;
    QSpinBox* sampleBox_ = nullptr;
    CallSelector* callBox_ = nullptr;
    QLabel* statusText_ = nullptr;
    QProgressBar* progress_ = nullptr;
    QPushButton* cancelButton_ = nullptr;
    QMenu* recentMenu_ = nullptr;
    QMenu* viewMenu_ = nullptr;
    AtlasDock* atlasDock_ = nullptr;
    QTabWidget* centralTabs_ = nullptr;
    ExplainView* explain_ = nullptr;
};

} // namespace layerscope::ui
