#include "inputpanel.h"

#include "layerscope/statistics.h"

#include <QComboBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QSpinBox>
#include <QToolButton>
#include <QVBoxLayout>

namespace layerscope::ui {

QImage tensorToImage(const Tensor& tensor)
{
    const auto& s = tensor.shape;
    const std::size_t rank = s.size();
    if (rank < 3 || (s[rank - 3] != 1 && s[rank - 3] != 3))
        return {};
    const int channels = int(s[rank - 3]), height = int(s[rank - 2]), width = int(s[rank - 1]);
    const std::vector<double> values = valuesAsDoubles(tensor);
    const TensorStatistics stats = computeStatistics(tensor);
    const double range = stats.max > stats.min ? stats.max - stats.min : 1.0;
    QImage image(width, height, QImage::Format_RGB888);
    for (int y = 0; y < height; ++y) {
        uchar* line = image.scanLine(y);
        for (int x = 0; x < width; ++x) {
            for (int c = 0; c < 3; ++c) {
                const double v = values[std::size_t((std::min(c, channels - 1) * height + y) * width + x)];
                line[3 * x + c] = uchar(std::clamp((v - stats.min) / range * 255.0 + 0.5, 0.0, 255.0));
            }
        }
    }
    return image;
}

InputPanel::InputPanel(QWidget* parent)
    : QWidget(parent)
    , rowsLayout_(new QVBoxLayout)
    , preset_(new QComboBox(this))
    , color_(new QComboBox(this))
    , width_(new QSpinBox(this))
    , height_(new QSpinBox(this))
    , previewLabel_(new QLabel(this))
{
    preset_->addItems({tr("Resize to the size below"), tr("ImageNet (256, crop 224, mean/std)"), tr("Keep the image's size")});
    preset_->setToolTip(tr("How images become the model's input"));
    color_->addItems({tr("Grayscale"), tr("RGB"), tr("BGR")});
    for (QSpinBox* box : {width_, height_}) {
        box->setRange(1, 4096);
        box->setValue(224);
    }
    auto* size = new QHBoxLayout;
    size->addWidget(width_);
    size->addWidget(new QLabel(QStringLiteral("x"), this));
    size->addWidget(height_);
    auto* form = new QFormLayout;
    form->addRow(tr("Preprocessing"), preset_);
    form->addRow(tr("Colour"), color_);
    form->addRow(tr("Size"), size);
    previewLabel_->setMinimumSize(96, 96);
    previewLabel_->setAlignment(Qt::AlignCenter);
    previewLabel_->setToolTip(tr("The first input exactly as the model receives it (range stretched for display)"));
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(rowsLayout_);
    layout->addLayout(form);
    layout->addWidget(new QLabel(tr("As the model sees it:"), this));
    layout->addWidget(previewLabel_, 1);
    for (QComboBox* box : {preset_, color_})
        connect(box, &QComboBox::currentIndexChanged, this, &InputPanel::inputsChanged);
    for (QSpinBox* box : {width_, height_})
        connect(box, &QSpinBox::editingFinished, this, &InputPanel::inputsChanged);
    connect(preset_, &QComboBox::currentIndexChanged, this, [this](int index) {
        width_->setEnabled(index == 0);
        height_->setEnabled(index == 0);
        color_->setEnabled(index != 1);
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
        const QString name = i < int(arguments_.size()) ? QString::fromStdString(arguments_[std::size_t(i)].name) : QString::number(i);
        auto* label = new QLabel(name + ":", this);
        auto* path = new QLineEdit(this);
        path->setPlaceholderText(tr("image or .npy for '%1'").arg(name));
        auto* button = new QToolButton(this);
        button->setText(QStringLiteral("…"));
        button->setToolTip(tr("Choose the input for '%1'").arg(name));
        row->addWidget(label);
        row->addWidget(path, 1);
        row->addWidget(button);
        rowsLayout_->addLayout(row);
        paths_ << path;
        connect(button, &QToolButton::clicked, this, [this, i] { browse(i); });
        connect(path, &QLineEdit::editingFinished, this, &InputPanel::inputsChanged);
    }
}

void InputPanel::setArguments(const std::vector<ArgumentInfo>& arguments)
{
    arguments_ = arguments;
    int required = 0;
    for (const auto& a : arguments)
        required += a.hasDefault ? 0 : 1;
    rebuildRows(std::max(1, required));
}

void InputPanel::browse(int row)
{
    const QString file = QFileDialog::getOpenFileName(this, tr("Choose an input"), paths_[row]->text(),
                                                      tr("Images and tensors (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp *.npy)"));
    if (!file.isEmpty()) {
        paths_[row]->setText(file);
        emit inputsChanged();
    }
}

QStringList InputPanel::inputs() const
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
}

Preprocessing InputPanel::preprocessing() const
{
    if (preset_->currentIndex() == 1)
        return Preprocessing::imagenet();
    Preprocessing p;
    p.color = static_cast<ColorMode>(color_->currentIndex());
    if (preset_->currentIndex() == 0) {
        p.resize = ResizeMode::Exact;
        p.resizeWidth = width_->value();
        p.resizeHeight = height_->value();
    }
    return p;
}

void InputPanel::setPreprocessing(const Preprocessing& p)
{
    const QSignalBlocker blockPreset(preset_), blockColor(color_);
    if (p.toJson() == Preprocessing::imagenet().toJson()) {
        preset_->setCurrentIndex(1);
    } else {
        preset_->setCurrentIndex(p.resize == ResizeMode::Exact ? 0 : 2);
        color_->setCurrentIndex(static_cast<int>(p.color));
        if (p.resize == ResizeMode::Exact) {
            width_->setValue(p.resizeWidth);
            height_->setValue(p.resizeHeight);
        }
    }
    width_->setEnabled(preset_->currentIndex() == 0);
    height_->setEnabled(preset_->currentIndex() == 0);
    color_->setEnabled(preset_->currentIndex() != 1);
}

void InputPanel::showPreview(const Tensor& modelInput)
{
    preview_ = tensorToImage(modelInput);
    if (preview_.isNull()) {
        previewLabel_->setText(tr("%1: no preview").arg(QString::fromStdString(shapeToString(modelInput.shape))));
        return;
    }
    const int side = std::max(96, std::min(previewLabel_->width(), 256));
    previewLabel_->setPixmap(QPixmap::fromImage(preview_.scaled(side, side, Qt::KeepAspectRatio, Qt::FastTransformation)));
}

} // namespace layerscope::ui
