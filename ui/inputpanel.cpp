#include "inputpanel.h"

#include "qimages.h"
#include "scaledimage.h"

#include "layerscope/error.h"
#include "layerscope/preprocessing.h"
#include "layerscope/statistics.h"
#include "preprocessingeditor.h"
#include "thumbnailloader.h"

#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QStyle>
#include <QToolButton>
#include <QVBoxLayout>

namespace layerscope::ui {

InputPanel::InputPanel(QWidget* parent)
    : QWidget(parent)
    , rowsLayout_(new QVBoxLayout)
    , thumbnails_(new QListWidget(this))
    , loader_(new ThumbnailLoader(this))
    , editor_(new PreprocessingEditor(this))
    , preview_(new ScaledImage(this))
{
    thumbnails_->setViewMode(QListView::IconMode);
    thumbnails_->setIconSize(QSize(56, 56));
    thumbnails_->setFlow(QListView::LeftToRight);
    thumbnails_->setWrapping(false);
    thumbnails_->setFixedHeight(96);
    thumbnails_->setToolTip(tr("The folder's images: select one to run it (arrow keys step through)"));
    thumbnails_->hide();
    preview_->setObjectName("modelInputPreview");
    preview_->setToolTip(tr("The first input exactly as the model receives it (range stretched for display)"));
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(rowsLayout_);
    layout->addWidget(thumbnails_);
    layout->addWidget(editor_);
    layout->addWidget(new QLabel(tr("As the model sees it:"), this));
    layout->addWidget(preview_, 1);
    connect(editor_, &PreprocessingEditor::changed, this, &InputPanel::inputsChanged);
    connect(thumbnails_, &QListWidget::currentRowChanged, this, [this](int row) {
        if (row >= 0)
            emit inputsChanged();
    });
    connect(loader_, &ThumbnailLoader::listed, this, [this](const QStringList& files, const QString& error) {
        thumbnails_->setToolTip(
            error.isEmpty() ? tr("The folder's images: select one to run it (arrow keys step through)") : error);
        for (const QString& file : files) {
            auto* item = new QListWidgetItem(QFileInfo(file).fileName(), thumbnails_);
            item->setData(Qt::UserRole, file);
            item->setToolTip(file);
        }
        if (!files.isEmpty())
            thumbnails_->setCurrentRow(0); // the folder row has its input now: runs it
    });
    connect(loader_, &ThumbnailLoader::thumbnailReady, this,
            [this](int index, const QImage& thumbnail, const QString& error) {
                if (QListWidgetItem* item = thumbnails_->item(index)) {
                    item->setIcon(QIcon(QPixmap::fromImage(thumbnail)));
                    if (!error.isEmpty())
                        item->setToolTip(error);
                }
            });
}

void InputPanel::rebuildRows(int count)
{
    while (QLayoutItem* item = rowsLayout_->takeAt(0)) {
        if (QLayout* row = item->layout()) {
            while (QLayoutItem* child = row->takeAt(0)) {
                delete child->widget();
                delete child;
            }
        }
        delete item;
    }
    paths_.clear();
    for (int i = 0; i < count; ++i) {
        auto* row = new QHBoxLayout;
        const QString name
            = i < int(arguments_.size()) ? QString::fromStdString(arguments_[std::size_t(i)].name) : QString::number(i);
        auto* label = new QLabel(name + ":", this);
        auto* path = new QLineEdit(this);
        path->setPlaceholderText(tr("image, folder or .npy for '%1'").arg(name));
        auto* file = new QToolButton(this);
        file->setText(QStringLiteral("…"));
        file->setToolTip(tr("Choose an image or .npy tensor for '%1'").arg(name));
        auto* folder = new QToolButton(this);
        folder->setIcon(style()->standardIcon(QStyle::SP_DirIcon));
        folder->setToolTip(tr("Choose a folder of images for '%1' and step through it").arg(name));
        row->addWidget(label);
        row->addWidget(path, 1);
        row->addWidget(file);
        row->addWidget(folder);
        rowsLayout_->addLayout(row);
        paths_ << path;
        connect(file, &QToolButton::clicked, this, [this, i] { browse(i, false); });
        connect(folder, &QToolButton::clicked, this, [this, i] { browse(i, true); });
        connect(path, &QLineEdit::editingFinished, this, [this] {
            refreshThumbnails();
            emit inputsChanged();
        });
    }
    refreshThumbnails();
}

void InputPanel::setArguments(const std::vector<ArgumentInfo>& arguments)
{
    arguments_ = arguments;
    int required = 0;
    for (const auto& a : arguments)
        required += a.hasDefault ? 0 : 1;
    rebuildRows(std::max(1, required));
}

void InputPanel::browse(int row, bool folder)
{
    const QString current = paths_[row]->text();
    const QString chosen = folder
        ? QFileDialog::getExistingDirectory(this, tr("Choose a folder of images"), current)
        : QFileDialog::getOpenFileName(this, tr("Choose an input"), current,
                                       tr("Images and tensors (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp *.npy)"));
    if (!chosen.isEmpty()) {
        paths_[row]->setText(chosen);
        refreshThumbnails();
        emit inputsChanged();
    }
}

void InputPanel::refreshThumbnails()
{
    int row = -1;
    for (int i = 0; i < paths_.size(); ++i) {
        if (QFileInfo(paths_[i]->text().trimmed()).isDir()) {
            row = i;
            break;
        }
    }
    const QString folder = row >= 0 ? paths_[row]->text().trimmed() : QString();
    if (row == thumbnailRow_ && folder == loader_->folder())
        return; // the same folder: keep its list and the selected image
    const QSignalBlocker blocker(thumbnails_);
    thumbnails_->clear();
    thumbnailRow_ = row;
    thumbnails_->setVisible(row >= 0);
    if (row < 0)
        loader_->clear();
    else
        loader_->load(folder, thumbnails_->iconSize(), 500);
}

QStringList InputPanel::inputs() const
{
    QStringList result;
    for (int row = 0; row < paths_.size(); ++row) {
        if (row == thumbnailRow_) // the selected image; none until the folder's list arrives
            result << (thumbnails_->currentItem() ? thumbnails_->currentItem()->data(Qt::UserRole).toString()
                                                  : QString());
        else
            result << paths_[row]->text().trimmed();
    }
    return result;
}

QStringList InputPanel::sources() const
{
    QStringList result;
    for (const QLineEdit* path : paths_)
        result << path->text().trimmed();
    return result;
}

void InputPanel::setInputs(const QStringList& paths)
{
    for (int i = 0; i < paths_.size() && i < paths.size(); ++i)
        paths_[i]->setText(paths[i]);
    refreshThumbnails();
}

Preprocessing InputPanel::preprocessing() const { return editor_->preprocessing(); }

void InputPanel::setPreprocessing(const Preprocessing& p) { editor_->setPreprocessing(p); }

void InputPanel::showPreview(const Tensor& modelInput)
{
    const QImage image = tensorToImage(modelInput);
    if (image.isNull())
        preview_->setText(tr("%1: no preview").arg(QString::fromStdString(shapeToString(modelInput.shape))));
    else
        preview_->setImage(image);
}

} // namespace layerscope::ui
