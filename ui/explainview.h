#pragma once
// The Explain tab: why the model predicted what it did, for the sample on screen. A class activation
// map of a module (or an input attribution) over the input as the model saw it, for the predicted
// class, a chosen one, or the top three side by side. Computed off the GUI thread with the window's
// model (Model::gradients), cancellable, and computed again when the input, sample or a choice changes.

#include "engineworker.h" // RunOutcome

#include "layerscope/attribution.h"
#include "layerscope/render.h"

#include <QWidget>

#include <memory>

class QCheckBox;
class QComboBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QSlider;

namespace layerscope::ui {

class ColorBar;

class ExplainView : public QWidget {
    Q_OBJECT

public:
    explicit ExplainView(QWidget* parent = nullptr);
    ~ExplainView() override;

    // The window's model and its last run, and the sample of the batch to explain.
    void setRun(std::shared_ptr<const Model> model, std::shared_ptr<const RunOutcome> outcome, int sample);
    void setLabels(const QStringList& labels);
    void clear();
    void explainClass(int classIndex); // a click in Model output: that class, alone
    void setTarget(const QString& key);
    void setMethod(const QString& name); // as the CLI names it: "gradcam", "smoothgrad", ...
    void setTopThree(bool sideBySide);
    void setOpacity(int percent);
    void cancel();

    bool exportImage(const QString& path) const; // the maps over the input, side by side, PNG
    bool exportMaps(const QString& path) const;  // the raw maps, .npy [k, h, w] float32

    bool isBusy() const { return busy_; }
    QString target() const;
    QString method() const;
    const Attribution* attribution() const { return result_.get(); } // null until one arrives
    QImage shownImage(int panel) const;                              // the overlay drawn in a panel
    int panelCount() const;
    QStringList captions() const { return captions_; } // under each panel: class and logit
    QString statusText() const;

signals:
    void finished(); // a map is on screen
    void failed(const QString& message);

protected:
    void showEvent(QShowEvent* event) override; // computes what changed while the tab was hidden

private:
    void refillMethods();
    void refillTargets();
    void refillClasses();
    void recompute();
    void onResult(quint64 id, std::shared_ptr<const Attribution> result);
    void onFailed(quint64 id, const QString& message);
    void onProgress(quint64 id, qint64 done, qint64 total);
    void redraw();
    void setBusy(bool busy, const QString& status);
    QString className(std::int64_t index) const;

    std::shared_ptr<const Model> model_;
    std::shared_ptr<const RunOutcome> outcome_;
    std::shared_ptr<const Attribution> result_;
    int sample_ = 0;
    QStringList labels_;
    QString wantedTarget_; // kept across runs and models while a model has it
    bool stale_ = false, busy_ = false;
    quint64 jobId_ = 0;
    std::shared_ptr<CancelToken> token_;
    std::vector<QImage> images_;

    QComboBox* methodBox_;
    QStringList tips_; // each method's tooltip, in the box's order
    QComboBox* targetBox_;
    QComboBox* classBox_;
    QCheckBox* topThreeBox_;
    QWidget* strip_; // the maps side by side with their captions
    QStringList captions_;
    QSlider* opacity_;
    QComboBox* colormapBox_;
    ColorBar* colorBar_;
    QPushButton* exportButton_;
    QLabel* status_;
    QProgressBar* progress_;
    QPushButton* cancelButton_;
};

} // namespace layerscope::ui
