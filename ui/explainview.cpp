#include "explainview.h"

#include "colorbar.h"
#include "qimages.h"

#include "layerscope/npy.h"
#include "layerscope/statistics.h"

#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QLabel>
#include <QPainter>
#include <QPointer>
#include <QProgressBar>
#include <QPushButton>
#include <QSaveFile>
#include <QShowEvent>
#include <QSignalBlocker>
#include <QSlider>
#include <QStandardItemModel>
#include <QThreadPool>
#include <QVBoxLayout>

#include <algorithm>
#include <cstring>
#include <numeric>

namespace layerscope::ui {

namespace {

constexpr int kPanels = 3; // the top three classes side by side

struct MethodEntry {
    const char* name; // as the CLI says it
    const char* title;
    const char* tip;
};
constexpr MethodEntry kMethodEntries[] = {
    {"gradcam", "Grad-CAM", "The module's channels weighted by their mean gradient"},
    {"gradcampp", "Grad-CAM++", "Grad-CAM with positive gradients weighted per position"},
    {"hirescam", "HiResCAM", "Gradient times activation, position by position"},
    {"layercam", "LayerCAM", "Positive gradient times activation; finer for early modules"},
    {"eigencam", "EigenCAM", "The module's first principal component (no gradient, no class)"},
    {"saliency", "Saliency", "The largest |gradient| over the input's channels"},
    {"smoothgrad", "SmoothGrad", "Saliency averaged over 25 noisy copies of the input"},
    {"integrated-gradients", "Integrated gradients", "(input - zeros) x the mean gradient on 50 steps from zeros"},
};

// Sample `sample` of an [N, ...] tensor, `copies` times: [copies, ...].
Tensor repeatedSample(const Tensor& tensor, int sample, int copies)
{
    const Tensor one = rowsOf(tensor, sample, 1);
    if (copies == 1)
        return one;
    std::vector<std::int64_t> shape = tensor.shape;
    shape[0] = copies;
    Tensor out = Tensor::zeros(shape, tensor.dtype);
    for (int i = 0; i < copies; ++i)
        std::memcpy(static_cast<char*>(out.mutableData()) + std::size_t(i) * one.nbytes(), one.data.get(),
                    one.nbytes());
    return out;
}

// The sample's classes by logit, largest first (empty when the output is not [N, classes]).
std::vector<std::int64_t> rankedClasses(const RunOutcome& outcome, int sample)
{
    if (outcome.result.outputs.empty())
        return {};
    const Tensor& output = outcome.result.outputs.front().tensor;
    if (output.shape.size() != 2 || sample >= output.shape[0])
        return {};
    const std::vector<double> logits = valuesAsDoubles(sampleOf(output, sample));
    std::vector<std::int64_t> order(logits.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::int64_t a, std::int64_t b) { return logits[std::size_t(a)] > logits[std::size_t(b)]; });
    return order;
}

// The maps side by side, each with its caption right under it, as large as the room allows (pixels
// stay sharp squares). Drawn on screen and, at a fixed size, into the exported PNG.
void drawStrip(QPainter& painter, const QRect& area, const std::vector<QImage>& images, const QStringList& captions)
{
    if (images.empty())
        return;
    const int gap = 8, captionHeight = painter.fontMetrics().height() + 4;
    const int slot = (area.width() - gap * (int(images.size()) - 1)) / int(images.size());
    double scale = 1e9;
    for (const QImage& image : images)
        scale = std::min({scale, double(slot) / image.width(), double(area.height() - captionHeight) / image.height()});
    if (scale <= 0)
        return;
    int tallest = 0;
    for (const QImage& image : images)
        tallest = std::max(tallest, int(image.height() * scale));
    const int top = area.top() + (area.height() - tallest - captionHeight) / 2;
    for (std::size_t i = 0; i < images.size(); ++i) {
        const QSize size(int(images[i].width() * scale), int(images[i].height() * scale));
        const int left = area.left() + int(i) * (slot + gap) + (slot - size.width()) / 2;
        painter.drawImage(QRect(QPoint(left, top), size), images[i]);
        painter.drawText(QRect(area.left() + int(i) * (slot + gap), top + size.height(), slot, captionHeight),
                         Qt::AlignHCenter | Qt::AlignTop,
                         painter.fontMetrics().elidedText(captions.value(int(i)), Qt::ElideRight, slot));
    }
}

class MapStrip : public QWidget {
public:
    explicit MapStrip(QWidget* parent)
        : QWidget(parent)
    {
        setMinimumSize(160, 120);
        setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
    }
    void show(std::vector<QImage> images, QStringList captions)
    {
        images_ = std::move(images), captions_ = std::move(captions);
        update();
    }

protected:
    void paintEvent(QPaintEvent*) override
    {
        QPainter painter(this);
        painter.setPen(palette().color(QPalette::WindowText));
        drawStrip(painter, rect(), images_, captions_);
    }

private:
    std::vector<QImage> images_;
    QStringList captions_;
};

} // namespace

ExplainView::ExplainView(QWidget* parent)
    : QWidget(parent)
    , methodBox_(new QComboBox(this))
    , targetBox_(new QComboBox(this))
    , classBox_(new QComboBox(this))
    , topThreeBox_(new QCheckBox(tr("Top 3 side by side"), this))
    , strip_(new MapStrip(this))
    , opacity_(new QSlider(Qt::Horizontal, this))
    , colormapBox_(new QComboBox(this))
    , colorBar_(new ColorBar(this))
    , exportButton_(new QPushButton(tr("Export…"), this))
    , status_(new QLabel(this))
    , progress_(new QProgressBar(this))
    , cancelButton_(new QPushButton(tr("Cancel"), this))
{
    for (const auto& m : kMethodEntries) {
        methodBox_->addItem(tr(m.title), QString(m.name));
        methodBox_->setItemData(methodBox_->count() - 1, tr(m.tip), Qt::ToolTipRole);
        tips_ << tr(m.tip);
    }
    methodBox_->setObjectName("explainMethod");
    methodBox_->setToolTip(tr("How the map is computed (layerscope-cli cam --method)"));
    targetBox_->setObjectName("explainTarget");
    targetBox_->setToolTip(tr("The module whose output is explained; by default the last one with a spatial map "
                              "before pooling. Right-click a module in the tree to choose it there."));
    targetBox_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    targetBox_->setMinimumContentsLength(14);
    classBox_->setObjectName("explainClass");
    classBox_->setToolTip(tr("The class whose score is explained; click a row in Model output to choose it"));
    classBox_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    classBox_->setMinimumContentsLength(16);
    topThreeBox_->setObjectName("explainTopThree");
    topThreeBox_->setToolTip(tr("The maps of the three highest-scoring classes next to each other"));

    auto* choices = new QHBoxLayout;
    choices->addWidget(methodBox_);
    choices->addWidget(new QLabel(tr("of"), this));
    choices->addWidget(targetBox_, 1);
    choices->addWidget(new QLabel(tr("for"), this));
    choices->addWidget(classBox_, 1);
    choices->addWidget(topThreeBox_);

    strip_->setObjectName("explainMaps");
    strip_->setToolTip(
        tr("The map upsampled to the input, normalised to its own range, over the input as the model saw it"));

    opacity_->setRange(0, 100);
    opacity_->setValue(50);
    opacity_->setObjectName("explainOpacity");
    opacity_->setToolTip(tr("How much of the map covers the input"));
    opacity_->setMaximumWidth(140);
    for (const auto& name : colormapNames())
        colormapBox_->addItem(QString::fromStdString(name));
    colormapBox_->setCurrentText("jet");
    colormapBox_->setToolTip(tr("The map's colours"));
    colorBar_->setToolTip(tr("The map's values (first panel): its colours span its own minimum to maximum"));
    exportButton_->setToolTip(tr("Save the maps over the input (PNG) or the raw maps (.npy, [k, h, w] float32)"));
    auto* look = new QHBoxLayout;
    look->addWidget(new QLabel(tr("Opacity"), this));
    look->addWidget(opacity_);
    look->addWidget(colormapBox_);
    look->addWidget(colorBar_, 1);
    look->addWidget(exportButton_);

    status_->setWordWrap(true);
    status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    status_->setObjectName("explainStatus");
    progress_->setMaximumWidth(160);
    progress_->hide();
    cancelButton_->setToolTip(tr("Stop computing the map"));
    cancelButton_->hide();
    auto* statusRow = new QHBoxLayout;
    statusRow->addWidget(status_, 1);
    statusRow->addWidget(progress_);
    statusRow->addWidget(cancelButton_);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addLayout(choices);
    layout->addWidget(strip_, 1);
    layout->addLayout(look);
    layout->addLayout(statusRow);

    connect(methodBox_, &QComboBox::currentIndexChanged, this, [this] {
        const bool onInputs = isInputAttribution(attributionMethodFromName(method().toStdString()));
        targetBox_->setEnabled(!onInputs);
        recompute();
    });
    connect(targetBox_, &QComboBox::activated, this, [this] {
        wantedTarget_ = targetBox_->currentText();
        recompute();
    });
    connect(classBox_, &QComboBox::activated, this, &ExplainView::recompute);
    connect(topThreeBox_, &QCheckBox::toggled, this, [this](bool on) {
        classBox_->setEnabled(!on);
        recompute();
    });
    connect(opacity_, &QSlider::valueChanged, this, &ExplainView::redraw);
    connect(colormapBox_, &QComboBox::currentIndexChanged, this, &ExplainView::redraw);
    connect(cancelButton_, &QPushButton::clicked, this, &ExplainView::cancel);
    connect(exportButton_, &QPushButton::clicked, this, [this] {
        QString filter;
        const QString path = QFileDialog::getSaveFileName(this, tr("Export the explanation"), "explanation.png",
                                                          tr("Image (*.png);;Raw maps (*.npy)"), &filter);
        if (path.isEmpty())
            return;
        const bool written = path.endsWith(".npy", Qt::CaseInsensitive) ? exportMaps(path) : exportImage(path);
        if (!written)
            emit failed(tr("%1: cannot write the explanation there").arg(path));
    });
    clear();
}

ExplainView::~ExplainView() { cancel(); }

QString ExplainView::target() const { return targetBox_->currentText(); }
QString ExplainView::method() const { return methodBox_->currentData().toString(); }
QString ExplainView::statusText() const { return status_->text(); }

int ExplainView::panelCount() const { return result_ ? int(images_.size()) : 0; }

QImage ExplainView::shownImage(int panel) const
{
    return panel >= 0 && panel < int(images_.size()) ? images_[std::size_t(panel)] : QImage();
}

void ExplainView::setLabels(const QStringList& labels)
{
    labels_ = labels;
    refillClasses();
}

QString ExplainView::className(std::int64_t index) const
{
    return index >= 0 && index < labels_.size() ? labels_[int(index)] : tr("class %1").arg(index);
}

void ExplainView::clear()
{
    cancel();
    model_.reset();
    outcome_.reset();
    result_.reset();
    images_.clear();
    targetBox_->clear();
    classBox_->clear();
    captions_.clear();
    static_cast<MapStrip*>(strip_)->show({}, {});
    colorBar_->clear();
    exportButton_->setEnabled(false);
    status_->setText(tr("Run an input through a classifier: its prediction is explained here"));
}

void ExplainView::setRun(std::shared_ptr<const Model> model, std::shared_ptr<const RunOutcome> outcome, int sample)
{
    model_ = std::move(model);
    outcome_ = std::move(outcome);
    sample_ = sample;
    refillMethods();
    refillTargets();
    refillClasses();
    recompute();
}

// A runtime without gradients (ONNX through OpenCV) offers EigenCAM only; the other methods stay
// listed, disabled, with the reason.
void ExplainView::refillMethods()
{
    const bool gradients = !model_ || model_->hasGradients();
    auto* items = qobject_cast<QStandardItemModel*>(methodBox_->model());
    for (int i = 0; items && i < methodBox_->count(); ++i) {
        const bool usable = gradients || methodBox_->itemData(i).toString() == "eigencam";
        items->item(i)->setEnabled(usable);
        items->item(i)->setToolTip(usable ? tips_.value(i)
                                          : tr("Needs gradients, which %1 models run without here: open the "
                                               "TorchScript export")
                                                .arg(QString::fromStdString(model_->formatName())));
    }
    if (!gradients && method() != "eigencam") {
        const QSignalBlocker quiet(methodBox_); // recompute() follows in setRun
        methodBox_->setCurrentIndex(methodBox_->findData(QString("eigencam")));
    }
}

void ExplainView::refillTargets()
{
    if (!targetBox_->currentText().isEmpty())
        wantedTarget_ = targetBox_->currentText();
    targetBox_->clear();
    if (!outcome_)
        return;
    for (const Capture& capture : outcome_->result.captures) {
        const auto& s = capture.tensor.shape;
        if (!capture.isInput && ((s.size() == 4 && s[2] * s[3] > 1) || s.size() == 3))
            targetBox_->addItem(QString::fromStdString(capture.key),
                                QString::fromStdString(shapeToString(capture.tensor.shape)));
    }
    for (int i = 0; i < targetBox_->count(); ++i)
        targetBox_->setItemData(i, targetBox_->itemData(i), Qt::ToolTipRole);
    // The module chosen before (by the user, or --module), while this model has it; else the default.
    int chosen = targetBox_->findText(wantedTarget_);
    if (chosen < 0)
        chosen = targetBox_->findText(QString::fromStdString(defaultAttributionTarget(outcome_->result)));
    targetBox_->setCurrentIndex(std::max(0, chosen));
}

void ExplainView::refillClasses()
{
    const QVariant kept = classBox_->currentData();
    classBox_->clear();
    classBox_->addItem(tr("the predicted class"), qint64(-1));
    if (!outcome_)
        return;
    const std::vector<std::int64_t> ranked = rankedClasses(*outcome_, sample_);
    for (std::size_t r = 0; r < std::min<std::size_t>(ranked.size(), 5); ++r)
        classBox_->addItem(tr("#%1 %2").arg(r + 1).arg(className(ranked[r])), qint64(ranked[r]));
    if (kept.isValid() && kept.toLongLong() >= 0 && classBox_->findData(kept) < 0)
        classBox_->addItem(className(kept.toLongLong()), kept);
    classBox_->setCurrentIndex(std::max(0, classBox_->findData(kept)));
}

void ExplainView::explainClass(int classIndex)
{
    topThreeBox_->setChecked(false);
    if (classBox_->findData(qint64(classIndex)) < 0)
        classBox_->addItem(className(classIndex), qint64(classIndex));
    classBox_->setCurrentIndex(classBox_->findData(qint64(classIndex)));
    recompute();
}

void ExplainView::setTarget(const QString& key)
{
    wantedTarget_ = key;
    if (targetBox_->findText(key) < 0)
        targetBox_->addItem(key);
    targetBox_->setCurrentIndex(targetBox_->findText(key));
    if (isInputAttribution(attributionMethodFromName(method().toStdString())))
        methodBox_->setCurrentIndex(0); // recomputes
    else
        recompute();
}

void ExplainView::setMethod(const QString& name)
{
    const int index = methodBox_->findData(name);
    if (index >= 0) // an unknown name keeps the current method (an empty one would throw when run)
        methodBox_->setCurrentIndex(index);
}
void ExplainView::setTopThree(bool sideBySide) { topThreeBox_->setChecked(sideBySide); }
void ExplainView::setOpacity(int percent) { opacity_->setValue(percent); }

void ExplainView::showEvent(QShowEvent* event)
{
    QWidget::showEvent(event);
    if (stale_)
        recompute();
}

void ExplainView::cancel()
{
    if (token_)
        token_->cancel();
    token_.reset();
    ++jobId_; // whatever still arrives is dropped
    if (busy_)
        setBusy(false, tr("Cancelled"));
}

void ExplainView::setBusy(bool busy, const QString& status)
{
    busy_ = busy;
    progress_->setVisible(busy);
    cancelButton_->setVisible(busy);
    if (busy)
        progress_->setRange(0, 0);
    status_->setStyleSheet({});
    status_->setText(status);
}

void ExplainView::recompute()
{
    if (!model_ || !outcome_ || outcome_->modelInputs.empty())
        return;
    if (!isVisible()) { // computed when the tab is shown: a hidden tab costs no backward pass
        stale_ = true;
        return;
    }
    stale_ = false;
    cancel();
    AttributionRequest request;
    request.method = attributionMethodFromName(method().toStdString());
    request.layer = isInputAttribution(request.method) ? std::string() : target().toStdString();
    if (!isInputAttribution(request.method) && request.layer.empty()) {
        status_->setText(tr("Choose a target module: this model has no output with a spatial map"));
        return;
    }
    const std::vector<std::int64_t> ranked = rankedClasses(*outcome_, sample_);
    if (topThreeBox_->isChecked() && !ranked.empty())
        request.classes.assign(ranked.begin(), ranked.begin() + std::min<std::ptrdiff_t>(kPanels, ranked.size()));
    else
        request.classes = {classBox_->currentData().isValid() ? classBox_->currentData().toLongLong() : -1};
    std::vector<Tensor> inputs;
    for (const Tensor& input : outcome_->modelInputs)
        inputs.push_back(repeatedSample(input, sample_, int(request.classes.size())));

    const quint64 id = ++jobId_;
    token_ = std::make_shared<CancelToken>();
    JobControl control;
    control.cancel = *token_;
    QPointer<ExplainView> self(this);
    control.progress = [self, id](const JobProgress& p) {
        QMetaObject::invokeMethod(
            qApp,
            [self, id, p] {
                if (self)
                    self->onProgress(id, p.done, p.total);
            },
            Qt::QueuedConnection);
    };
    setBusy(
        true,
        tr("Computing %1 of %2…").arg(methodBox_->currentText(), request.layer.empty() ? tr("the inputs") : target()));
    QThreadPool::globalInstance()->start([self, id, control, request, inputs, model = model_] {
        std::shared_ptr<const Attribution> result;
        QString error;
        try {
            result = std::make_shared<const Attribution>(explain(*model, inputs, request, &control));
        } catch (const Cancelled&) {
            return;
        } catch (const std::exception& e) {
            error = QString::fromUtf8(e.what());
        }
        QMetaObject::invokeMethod(
            qApp,
            [self, id, result, error] {
                if (self && result)
                    self->onResult(id, result);
                else if (self)
                    self->onFailed(id, error);
            },
            Qt::QueuedConnection);
    });
}

void ExplainView::onProgress(quint64 id, qint64 done, qint64 total)
{
    if (id != jobId_ || !busy_ || total <= 1)
        return;
    progress_->setRange(0, int(total));
    progress_->setValue(int(done));
}

void ExplainView::onFailed(quint64 id, const QString& message)
{
    if (id != jobId_)
        return;
    setBusy(false, message);
    status_->setStyleSheet(QStringLiteral("color: #c0392b;"));
    emit failed(message);
}

void ExplainView::onResult(quint64 id, std::shared_ptr<const Attribution> result)
{
    if (id != jobId_)
        return;
    result_ = std::move(result);
    QString status
        = tr("%1 of %2").arg(methodBox_->currentText(), targetBox_->isEnabled() ? target() : tr("the input"));
    if (!result_->convergenceDelta.empty())
        status += tr("; convergence delta %1 (sum of the map minus the score's change from the baseline)")
                      .arg(double(result_->convergenceDelta.front()), 0, 'g', 3);
    if (!result_->note.empty())
        status += "; " + QString::fromStdString(result_->note);
    setBusy(false, status);
    redraw();
    emit finished();
}

void ExplainView::redraw()
{
    images_.clear();
    captions_.clear();
    if (!result_ || !outcome_)
        return static_cast<MapStrip*>(strip_)->show({}, {});
    const Colormap colormap = colormapFromName(colormapBox_->currentText().toStdString());
    const Tensor image = sampleOf(outcome_->modelInputs.front(), sample_);
    const std::int64_t panels = result_->cam.shape.empty() ? 0 : result_->cam.shape[0];
    for (int i = 0; i < panels; ++i) {
        const Tensor map = sampleOf(result_->cam, i);
        QImage drawn;
        try {
            drawn = toQImage(renderOverlay(image, map, colormap, opacity_->value() / 100.0));
        } catch (const Error&) { // the input is no image (token ids): the map alone
            const auto& s = result_->cam.shape;
            drawn = toQImage(renderOverlay(Tensor::zeros({1, s[1], s[2]}, DType::Float32), map, colormap, 1.0));
        }
        images_.push_back(drawn);
        const auto c = result_->classes[std::size_t(i)];
        const bool named = c >= 0 && c < labels_.size(); // else className says "class N" already
        const QString logit = QString::number(double(result_->scores[std::size_t(i)]), 'g', 4);
        // One arg() call: a class name holding "%2" is not substituted into.
        captions_ << (named ? tr("%1 (class %2), logit %3").arg(className(c), QString::number(c), logit)
                            : tr("%1, logit %2").arg(className(c), logit));
    }
    static_cast<MapStrip*>(strip_)->show(images_, captions_);
    const TensorStatistics range = computeStatistics(sampleOf(result_->cam, 0));
    if (range.min < 0) // signed (integrated gradients): drawn by magnitude
        colorBar_->show(colormap, 0, std::max(-range.min, range.max), false);
    else
        colorBar_->show(colormap, range.min, range.max, false);
    exportButton_->setEnabled(true);
}

bool ExplainView::exportImage(const QString& path) const
{
    if (images_.empty())
        return false;
    // Each map at least 320 px high, whole pixels of the input, captions under them.
    const int scale = std::max(1, (320 + images_.front().height() - 1) / images_.front().height());
    const int gap = 8, captionHeight = fontMetrics().height() + 4;
    const QSize panel = images_.front().size() * scale;
    QImage sheet(int(images_.size()) * (panel.width() + gap) - gap, panel.height() + captionHeight,
                 QImage::Format_RGB888);
    sheet.fill(Qt::white);
    QPainter painter(&sheet);
    painter.setPen(Qt::black);
    drawStrip(painter, sheet.rect(), images_, captions_);
    painter.end();
    QSaveFile file(path); // never a half-written file under the name
    return file.open(QIODevice::WriteOnly) && sheet.save(&file, "PNG") && file.commit();
}

bool ExplainView::exportMaps(const QString& path) const
{
    if (!result_)
        return false;
    try {
        writeNpy(path.toStdString(), result_->cam);
    } catch (const Error&) {
        return false;
    }
    return true;
}

} // namespace layerscope::ui
