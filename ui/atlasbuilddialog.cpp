#include "atlasbuilddialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>

#include "layerscope/exporters.h"

namespace layerscope::ui {

AtlasBuildDialog::AtlasBuildDialog(const QStringList& captures, const QString& folder, const QString& modelName,
                                   QWidget* parent)
    : QDialog(parent)
    , folder_(new QLineEdit(folder))
    , captures_(new QLineEdit(captures.join(", ")))
    , output_(new QLineEdit)
    , recursive_(new QCheckBox(tr("Include subfolders")))
    , top_(new QSpinBox)
    , score_(new QComboBox)
    , batch_(new QSpinBox)
    , keepProgress_(new QCheckBox(tr("Keep its progress")))
    , interrupted_(new QLabel)
{
    setWindowTitle(tr("Build Atlas"));
    folder_->setToolTip(tr("The images to go through (one pass; the images themselves are not copied)"));
    captures_->setToolTip(tr("Capture keys, separated by commas: layer4, encoder:1, fc>in"));
    recursive_->setChecked(true);
    top_->setRange(1, 10000);
    top_->setValue(9);
    top_->setToolTip(tr("Images kept per channel, highest and lowest"));
    score_->addItems({"max", "mean"});
    score_->setToolTip(tr("How an image scores on a channel: the maximum of its map, or its mean"));
    batch_->setRange(1, 4096);
    batch_->setValue(16);
    keepProgress_->setChecked(true);
    keepProgress_->setToolTip(tr("A checkpoint after every batch, beside the atlas: a build that is cancelled or "
                                 "cut short continues where it stopped when built again with the same settings "
                                 "(as layerscope-cli atlas --resume)"));
    interrupted_->setWordWrap(true);
    interrupted_->setVisible(false);
    auto noteInterrupted = [this] {
        const QString path = output_->text().trimmed();
        const bool kept = !path.isEmpty()
            && QFileInfo(QString::fromStdString(resumeStatePathFor(QDir::cleanPath(path).toStdString()))).isDir();
        interrupted_->setText(kept ? tr("An interrupted build of this atlas is kept: with \"Keep its progress\" "
                                        "and the same settings, Build continues it; without, it starts over")
                                   : QString());
        interrupted_->setVisible(kept);
    };
    connect(output_, &QLineEdit::textChanged, this, noteInterrupted);
    auto suggestOutput = [this, modelName] {
        if (!folder_->text().isEmpty())
            output_->setText(
                QDir(folder_->text())
                    .absoluteFilePath("../" + QDir(folder_->text()).dirName() + "-" + modelName + ".atlas"));
    };
    suggestOutput();
    output_->setText(QDir::cleanPath(output_->text()));
    connect(folder_, &QLineEdit::editingFinished, this, [this, suggestOutput] {
        if (output_->text().isEmpty())
            suggestOutput();
    });
    auto* browse = new QPushButton(tr("Browse…"));
    connect(browse, &QPushButton::clicked, this, [this, suggestOutput] {
        const QString chosen = QFileDialog::getExistingDirectory(this, tr("Folder of images"), folder_->text());
        if (!chosen.isEmpty()) {
            folder_->setText(chosen);
            suggestOutput();
            output_->setText(QDir::cleanPath(output_->text()));
        }
    });
    auto* folderRow = new QHBoxLayout;
    folderRow->addWidget(folder_, 1);
    folderRow->addWidget(browse);
    auto* form = new QFormLayout;
    form->addRow(tr("Images"), folderRow);
    form->addRow(QString(), recursive_);
    form->addRow(tr("Captures"), captures_);
    form->addRow(tr("Top and bottom"), top_);
    form->addRow(tr("Score"), score_);
    form->addRow(tr("Batch size"), batch_);
    form->addRow(tr("Atlas"), output_);
    form->addRow(QString(), keepProgress_);
    form->addRow(QString(), interrupted_);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
    buttons->button(QDialogButtonBox::Ok)->setText(tr("Build"));
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    auto refresh = [this, buttons] { buttons->button(QDialogButtonBox::Ok)->setEnabled(isComplete()); };
    for (QLineEdit* edit : {folder_, captures_, output_})
        connect(edit, &QLineEdit::textChanged, this, refresh);
    refresh();
    noteInterrupted();
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(buttons);
}

bool AtlasBuildDialog::isComplete() const
{
    return !folder_->text().trimmed().isEmpty() && !captures_->text().trimmed().isEmpty()
        && !output_->text().trimmed().isEmpty();
}

AtlasJob AtlasBuildDialog::job(const Preprocessing& preprocessing) const
{
    AtlasJob job;
    job.run.inputs = {folder_->text().trimmed().toStdString()};
    job.run.recursive = recursive_->isChecked();
    job.run.preprocessing = preprocessing;
    job.run.batchSize = batch_->value();
    job.run.outputPath = output_->text().trimmed().toStdString();
    job.run.resume = keepProgress_->isChecked();
    for (const QString& capture : captures_->text().split(',', Qt::SkipEmptyParts))
        if (!capture.trimmed().isEmpty())
            job.captures.push_back(capture.trimmed().toStdString());
    job.score = score_->currentIndex() == 1 ? AtlasScore::Mean : AtlasScore::Max;
    job.topK = top_->value();
    return job;
}

} // namespace layerscope::ui
