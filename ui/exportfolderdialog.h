#pragma once

#include "latestrequest.h"
#include "layerscope/capture.h"

#include <QDialog>
#include <QStringList>

class QDialogButtonBox;
class QLabel;
class QLineEdit;
class QSpinBox;

namespace layerscope::ui {

// What a folder export of the checked modules will write, from the last run's captures: how many
// arrays per image and their bytes (shape x dtype, per sample of the batch).
struct ExportEstimate {
    int checkedModules = 0;
    int captures = 0; // arrays per image: every call and tuple element of the checked modules, and the output
    qint64 bytesPerImage = 0;
    bool known = false; // false before the model has run
};
ExportEstimate estimateExport(const RunResult& lastRun, const QStringList& checkedModules);
// "3 arrays per image (2 checked modules and the model's output), about 1.2 MiB per image, 307 MiB
// for 256 images"; images < 0: not counted yet.
QString describeEstimate(const ExportEstimate& estimate, qint64 images);

// Asks for what a folder export needs before it starts: a folder (or one file shared by every
// image) per forward argument, prefilled from the Inputs rows, and the output file. Counts each
// folder's images off the GUI thread, says when folders do not pair up (the engine pairs them file
// by file in sorted order) and shows the estimate; Export is enabled only when all is consistent.
class ExportFolderDialog : public QDialog {
    Q_OBJECT

public:
    ExportFolderDialog(const QStringList& argumentNames, const QStringList& sources, const ExportEstimate& estimate,
                       const QString& outputPath, const QString& outputFilters, QWidget* parent = nullptr);

    QStringList inputs() const;
    QString outputPath() const;
    void setInput(int row, const QString& path);
    void setOutputPath(const QString& path);
    qint64 imageCount() const { return images_; } // -1 until counted or when the folders do not pair up
    QString summaryText() const;                  // the estimate or what is wrong
    bool canExport() const;
    // Batches through the model side by side (ExtractionJob::streams; 0: the machine's default), and
    // what they hold in memory while the export runs.
    int streams() const;
    void setStreams(int streams);
    QString memoryText() const;

signals:
    void counted(); // the folder counts arrived and the summary is up to date

private:
    void recount();
    void fitTheText();
    void showCounts(const QList<qint64>& counts, const QStringList& errors);

    QList<QLineEdit*> rows_;
    QStringList names_;
    QLineEdit* output_;
    QLabel* summary_;
    QSpinBox* streams_;
    QLabel* memory_;
    QDialogButtonBox* buttons_;
    ExportEstimate estimate_;
    qint64 images_ = -1;
    LatestRequest counts_; // a listing may outlive the dialog: closing it never waits
};

} // namespace layerscope::ui
