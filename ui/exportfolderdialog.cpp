#include "exportfolderdialog.h"

#include "layerscope/extraction.h"
#include "layerscope/preprocessing.h"
#include "layerscope/runtime.h"

#include <QApplication>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QPointer>
#include <QPushButton>
#include <QSpinBox>
#include <QStyle>
#include <QThread>
#include <QThreadPool>
#include <QToolButton>

#include <set>

namespace layerscope::ui {

ExportEstimate estimateExport(const RunResult& lastRun, const QStringList& checkedModules)
{
    ExportEstimate estimate;
    estimate.checkedModules = int(checkedModules.size());
    std::set<std::string> checked;
    for (const QString& name : checkedModules)
        checked.insert(name.toStdString());
    auto add = [&](const Capture& capture) {
        const auto& shape = capture.tensor.shape;
        const std::int64_t batch = shape.empty() || shape[0] < 1 ? 1 : shape[0];
        estimate.bytesPerImage += qint64(capture.tensor.nbytes()) / batch;
        ++estimate.captures;
    };
    for (const Capture& capture : lastRun.captures) {
        if (!capture.isInput && checked.count(capture.module))
            add(capture);
    }
    for (const Capture& capture : lastRun.outputs)
        add(capture);
    estimate.known = !lastRun.outputs.empty();
    return estimate;
}

QString describeEstimate(const ExportEstimate& estimate, qint64 images)
{
    auto count = [](qint64 n, const QString& one, const QString& many) {
        return QString::number(n) + " " + (n == 1 ? one : many);
    };
    const QString modules
        = count(estimate.checkedModules, QObject::tr("checked module"), QObject::tr("checked modules"));
    if (!estimate.known)
        return QObject::tr("%1; run the model once to estimate the size").arg(modules);
    const QLocale locale;
    QString text = QObject::tr("%1 per image (%2 and the model's output), about %3 per image")
                       .arg(count(estimate.captures, QObject::tr("array"), QObject::tr("arrays")), modules,
                            locale.formattedDataSize(estimate.bytesPerImage));
    if (images >= 0)
        text += QObject::tr(", %1 for %2")
                    .arg(locale.formattedDataSize(estimate.bytesPerImage * images),
                         count(images, QObject::tr("image"), QObject::tr("images")));
    return text;
}

ExportFolderDialog::ExportFolderDialog(const QStringList& argumentNames, const QStringList& sources,
                                       const ExportEstimate& estimate, const QString& outputPath,
                                       const QString& outputFilters, QWidget* parent)
    : QDialog(parent)
    , names_(argumentNames)
    , output_(new QLineEdit(outputPath, this))
    , summary_(new QLabel(this))
    , streams_(new QSpinBox(this))
    , memory_(new QLabel(this))
    , buttons_(new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this))
    , estimate_(estimate)
{
    setWindowTitle(tr("Export the checked modules for a folder"));
    setMinimumWidth(fontMetrics().averageCharWidth() * 70); // the summary and memory lines wrap, in two lines at most
    auto* form = new QFormLayout(this);
    auto* help = new QLabel(argumentNames.size() > 1
                                ? tr("One folder per forward argument (or an image or .npy shared by every sample); "
                                     "folders are paired file by file in sorted order.")
                                : tr("The folder of images to run."),
                            this);
    help->setWordWrap(true);
    form->addRow(help);
    for (int i = 0; i < argumentNames.size(); ++i) {
        auto* row = new QHBoxLayout;
        auto* path = new QLineEdit(sources.value(i), this);
        path->setObjectName(QStringLiteral("exportInput%1").arg(i));
        auto* browse = new QToolButton(this);
        browse->setIcon(style()->standardIcon(QStyle::SP_DirIcon));
        browse->setToolTip(tr("Choose the folder of images for '%1'").arg(argumentNames[i]));
        row->addWidget(path, 1);
        row->addWidget(browse);
        form->addRow(argumentNames[i] + ":", row);
        rows_ << path;
        connect(path, &QLineEdit::editingFinished, this, &ExportFolderDialog::recount);
        connect(browse, &QToolButton::clicked, this, [this, path, i] {
            const QString dir
                = QFileDialog::getExistingDirectory(this, tr("Folder of images for '%1'").arg(names_[i]), path->text());
            if (!dir.isEmpty())
                setInput(i, dir);
        });
    }
    auto* outputRow = new QHBoxLayout;
    auto* chooseOutput = new QToolButton(this);
    chooseOutput->setText(QStringLiteral("…"));
    output_->setObjectName(QStringLiteral("exportOutput"));
    outputRow->addWidget(output_, 1);
    outputRow->addWidget(chooseOutput);
    form->addRow(tr("Save to:"), outputRow);
    connect(chooseOutput, &QToolButton::clicked, this, [this, outputFilters] {
        const QString path
            = QFileDialog::getSaveFileName(this, tr("Export the checked modules"), output_->text(), outputFilters);
        if (!path.isEmpty())
            setOutputPath(path);
    });
    connect(output_, &QLineEdit::textChanged, this,
            [this] { buttons_->button(QDialogButtonBox::Ok)->setEnabled(canExport()); });
    summary_->setWordWrap(true);
    summary_->setObjectName(QStringLiteral("exportSummary"));
    form->addRow(summary_);
    streams_->setObjectName(QStringLiteral("exportStreams"));
    streams_->setRange(0, 4);
    streams_->setSpecialValueText(tr("Automatic (%1)").arg(defaultForwardStreams(computeThreads())));
    streams_->setToolTip(tr("Batches through the model side by side, sharing the threads: faster on many cores, "
                            "but each holds its batch's activations in memory (layerscope-cli extract --streams)"));
    form->addRow(tr("Side by side:"), streams_);
    memory_->setWordWrap(true);
    form->addRow(memory_);
    connect(streams_, &QSpinBox::valueChanged, this, [this] {
        memory_->setText(memoryText());
        fitTheText();
    });
    memory_->setText(memoryText());
    buttons_->button(QDialogButtonBox::Ok)->setText(tr("Export"));
    form->addRow(buttons_);
    connect(buttons_, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons_, &QDialogButtonBox::rejected, this, &QDialog::reject);
    recount();
}

QStringList ExportFolderDialog::inputs() const
{
    QStringList result;
    for (const QLineEdit* row : rows_)
        result << row->text().trimmed();
    return result;
}

QString ExportFolderDialog::outputPath() const { return output_->text().trimmed(); }

void ExportFolderDialog::setInput(int row, const QString& path)
{
    rows_.value(row)->setText(path);
    recount();
}

void ExportFolderDialog::setOutputPath(const QString& path) { output_->setText(path); }

QString ExportFolderDialog::summaryText() const { return summary_->text(); }

// Wrapped lines that arrive after the dialog is laid out (the counts) get the height they need.
void ExportFolderDialog::fitTheText()
{
    layout()->activate();
    const int needed = layout()->totalHeightForWidth(width());
    if (needed > height())
        resize(width(), needed);
}

int ExportFolderDialog::streams() const { return streams_->value(); }

void ExportFolderDialog::setStreams(int streams) { streams_->setValue(streams); }

QString ExportFolderDialog::memoryText() const
{
    const int batch = ExtractionJob().batchSize;
    const int side = streams() > 0 ? streams() : defaultForwardStreams(computeThreads());
    const QString batches = side == 1 ? tr("1 batch of %1 images").arg(batch)
                                      : tr("%1 batches of %2 images side by side").arg(side).arg(batch);
    if (!estimate_.known)
        return tr("While it runs, %1 in memory with their activations").arg(batches);
    return tr("While it runs, %1 in memory: about %2 of activations")
        .arg(batches, QLocale().formattedDataSize(estimate_.bytesPerImage * batch * side));
}

bool ExportFolderDialog::canExport() const { return images_ >= 0 && !outputPath().isEmpty(); }

namespace {

// Listings on threads of their own: a slow folder holds up no other work.
QThreadPool& listingPool()
{
    static QThreadPool* const pool = detachedPool(4); // one hung share holds up no later dialog
    return *pool;
}

} // namespace

// Listing folders is file-system work: a worker does it, the dialog shows the result when it comes.
void ExportFolderDialog::recount()
{
    Q_ASSERT(QThread::currentThread() == thread());
    const LatestRequest::Ticket ticket = counts_.next();
    images_ = -1;
    buttons_->button(QDialogButtonBox::Ok)->setEnabled(false);
    summary_->setText(tr("Counting the images…"));
    const QStringList paths = inputs();
    listingPool().start([self = QPointer<ExportFolderDialog>(this), ticket, paths] {
        if (ticket.stale())
            return; // typed over, or closed, while it waited
        QList<qint64> counts;
        QStringList errors;
        for (const QString& path : paths) {
            qint64 count = -1; // -1: a file, shared by every sample
            QString error;
            if (path.isEmpty()) {
                error = ExportFolderDialog::tr("choose a folder");
            } else if (QFileInfo(path).isDir()) {
                try {
                    count = qint64(listImages(path.toStdString(), false).size());
                } catch (const std::exception& e) {
                    error = QString::fromUtf8(e.what());
                }
            } else if (!QFileInfo(path).isFile()) {
                error = ExportFolderDialog::tr("%1: no such file or folder").arg(path);
            }
            counts << count;
            errors << error;
        }
        if (ticket.stale())
            return;                // typed over, or closed, while it listed
        QMetaObject::invokeMethod( // the application outlives any dialog; self is checked on its thread
            qApp,
            [self, ticket, counts, errors] {
                if (self && !ticket.stale()) // not a path changed since
                    self->showCounts(counts, errors);
            },
            Qt::QueuedConnection);
    });
}

void ExportFolderDialog::showCounts(const QList<qint64>& counts, const QStringList& errors)
{
    const QStringList paths = inputs();
    QString problem;
    qint64 images = -1;
    int first = -1;
    for (int i = 0; i < counts.size() && problem.isEmpty(); ++i) {
        if (!errors[i].isEmpty()) {
            problem = QStringLiteral("%1: %2").arg(names_.value(i), errors[i]);
        } else if (counts[i] == 0) {
            problem = tr("%1 has no images").arg(paths[i]);
        } else if (counts[i] > 0 && images >= 0 && counts[i] != images) {
            problem = tr("%1 has %2 images but %3 has %4: the folders are paired file by file in sorted order, so they "
                         "need as many images each")
                          .arg(paths[i])
                          .arg(counts[i])
                          .arg(paths[first])
                          .arg(images);
        } else if (counts[i] > 0 && images < 0) {
            images = counts[i];
            first = i;
        }
    }
    if (problem.isEmpty() && images < 0)
        problem = tr("Choose a folder of images for at least one argument");
    images_ = problem.isEmpty() ? images : -1;
    summary_->setText(problem.isEmpty() ? describeEstimate(estimate_, images) : problem);
    summary_->setStyleSheet(problem.isEmpty() ? QString() : QStringLiteral("color: #c0392b;"));
    fitTheText();
    buttons_->button(QDialogButtonBox::Ok)->setEnabled(canExport());
    emit counted();
}

} // namespace layerscope::ui
