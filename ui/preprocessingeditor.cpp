#include "preprocessingeditor.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>

namespace layerscope::ui {

namespace {

QString joinNumbers(const std::vector<float>& values)
{
    QStringList parts;
    for (float v : values)
        parts << QString::number(double(v), 'g', 6);
    return parts.join(", ");
}

bool parseNumbers(const QString& text, std::vector<float>* values)
{
    values->clear();
    for (const QString& part : text.split(',', Qt::SkipEmptyParts)) {
        bool ok = false;
        values->push_back(part.trimmed().toFloat(&ok));
        if (!ok)
            return false;
    }
    return true;
}

QSpinBox* sizeBox(QWidget* parent)
{
    auto* box = new QSpinBox(parent);
    box->setRange(1, 8192);
    box->setValue(224);
    return box;
}

QHBoxLayout* pair(QWidget* a, QWidget* b, QWidget* parent)
{
    auto* row = new QHBoxLayout;
    row->addWidget(a);
    row->addWidget(new QLabel(QStringLiteral("x"), parent));
    row->addWidget(b);
    return row;
}

} // namespace

PreprocessingEditor::PreprocessingEditor(QWidget* parent)
    : QWidget(parent)
    , preset_(new QComboBox(this))
    , resize_(new QComboBox(this))
    , width_(sizeBox(this))
    , height_(sizeBox(this))
    , crop_(new QCheckBox(tr("Center crop"), this))
    , cropWidth_(sizeBox(this))
    , cropHeight_(sizeBox(this))
    , color_(new QComboBox(this))
    , scale_(new QCheckBox(tr("Scale to [0, 1]"), this))
    , mean_(new QLineEdit(this))
    , std_(new QLineEdit(this))
    , interpolation_(new QComboBox(this))
    , suggestionText_(new QLabel(this))
    , suggestion_(new QPushButton(this))
{
    preset_->addItems({tr("Custom"), tr("ImageNet (shorter side 256, crop 224, mean/std)"), tr("Grayscale, [0, 1]")});
    preset_->setToolTip(tr("Fill every step below from a preset"));
    resize_->addItems({tr("Keep the size"), tr("Resize to"), tr("Shorter side to")});
    color_->addItems({tr("Grayscale"), tr("RGB"), tr("BGR")});
    interpolation_->addItems({tr("linear"), tr("area"), tr("cubic"), tr("nearest")});
    interpolation_->setToolTip(tr("'area' is closest to PIL's antialiased resize when shrinking"));
    mean_->setPlaceholderText(tr("none, or one per channel: 0.485, 0.456, 0.406"));
    std_->setPlaceholderText(tr("none, or one per channel: 0.229, 0.224, 0.225"));
    scale_->setChecked(true);
    color_->setCurrentIndex(1);

    auto* form = new QFormLayout(this);
    form->setContentsMargins(0, 0, 0, 0);
    form->addRow(tr("Preset"), preset_);
    form->addRow(resize_, pair(width_, height_, this));
    form->addRow(crop_, pair(cropWidth_, cropHeight_, this));
    form->addRow(tr("Colour"), color_);
    form->addRow(QString(), scale_);
    form->addRow(tr("Mean"), mean_);
    form->addRow(tr("Std"), std_);
    form->addRow(tr("Interpolation"), interpolation_);
    suggestion_->setObjectName(QStringLiteral("suggestedSize"));
    auto* suggestionRow = new QHBoxLayout; // left-aligned: visible in a narrow dock
    suggestionRow->addWidget(suggestionText_);
    suggestionRow->addWidget(suggestion_);
    suggestionRow->addStretch();
    form->addRow(suggestionRow);
    suggestionText_->hide();
    suggestion_->hide();
    connect(suggestion_, &QPushButton::clicked, this, [this] {
        Preprocessing p = preprocessing();
        p.resize = ResizeMode::Exact;
        p.resizeWidth = suggestedWidth_;
        p.resizeHeight = suggestedHeight_;
        if (suggestedChannels_ != p.channels())
            p.color = suggestedChannels_ == 1 ? ColorMode::Gray : ColorMode::RGB;
        if (p.cropWidth > 0 && (p.cropWidth > suggestedWidth_ || p.cropHeight > suggestedHeight_))
            p.cropWidth = p.cropHeight = 0; // a crop larger than the image would fail next
        setPreprocessing(p);
        emit changed();
    });

    connect(preset_, &QComboBox::activated, this, [this](int index) {
        if (index == 1)
            setPreprocessing(Preprocessing::imagenet());
        else if (index == 2)
            setPreprocessing(Preprocessing::gray(width_->value(), height_->value()));
        emit changed();
    });
    auto edited = [this] {
        preset_->setCurrentIndex(preprocessing().toJson() == Preprocessing::imagenet().toJson() ? 1 : 0);
        updateEnabled();
        mean_->setStyleSheet(isValid() ? QString() : QStringLiteral("color: #c0392b;"));
        std_->setStyleSheet(mean_->styleSheet());
        if (isValid()) {
            applied_ = preprocessing().toJson();
            emit changed();
        }
    };
    for (QComboBox* box : {resize_, color_, interpolation_})
        connect(box, &QComboBox::activated, this, edited);
    for (QCheckBox* box : {crop_, scale_})
        connect(box, &QCheckBox::clicked, this, edited);
    // Typing "224" is one run when the edit is finished (Return or focus leaving), not one per key;
    // leaving an unchanged box is none.
    for (QSpinBox* box : {width_, height_, cropWidth_, cropHeight_}) {
        box->setKeyboardTracking(false);
        connect(box, &QSpinBox::editingFinished, this, [this, edited] {
            if (preprocessing().toJson() != applied_)
                edited();
        });
    }
    for (QLineEdit* line : {mean_, std_})
        connect(line, &QLineEdit::editingFinished, this, edited);
    updateEnabled();
}

void PreprocessingEditor::updateEnabled()
{
    width_->setEnabled(resize_->currentIndex() != 0);
    height_->setEnabled(resize_->currentIndex() == 1);
    cropWidth_->setEnabled(crop_->isChecked());
    cropHeight_->setEnabled(crop_->isChecked());
    interpolation_->setEnabled(resize_->currentIndex() != 0);
}

bool PreprocessingEditor::isValid() const
{
    std::vector<float> values;
    return parseNumbers(mean_->text(), &values) && parseNumbers(std_->text(), &values);
}

Preprocessing PreprocessingEditor::preprocessing() const
{
    Preprocessing p;
    p.resize = static_cast<ResizeMode>(resize_->currentIndex());
    p.resizeWidth = p.resize == ResizeMode::None ? 0 : width_->value();
    p.resizeHeight = p.resize == ResizeMode::Exact ? height_->value() : 0;
    if (crop_->isChecked()) {
        p.cropWidth = cropWidth_->value();
        p.cropHeight = cropHeight_->value();
    }
    p.color = static_cast<ColorMode>(color_->currentIndex());
    p.scaleTo01 = scale_->isChecked();
    parseNumbers(mean_->text(), &p.mean);
    parseNumbers(std_->text(), &p.std);
    p.interpolation = static_cast<Interpolation>(interpolation_->currentIndex());
    return p;
}

void PreprocessingEditor::setPreprocessing(const Preprocessing& p)
{
    resize_->setCurrentIndex(static_cast<int>(p.resize));
    if (p.resize != ResizeMode::None)
        width_->setValue(p.resizeWidth);
    if (p.resize == ResizeMode::Exact)
        height_->setValue(p.resizeHeight);
    crop_->setChecked(p.cropWidth > 0);
    if (p.cropWidth > 0) {
        cropWidth_->setValue(p.cropWidth);
        cropHeight_->setValue(p.cropHeight);
    }
    color_->setCurrentIndex(static_cast<int>(p.color));
    scale_->setChecked(p.scaleTo01);
    mean_->setText(joinNumbers(p.mean));
    std_->setText(joinNumbers(p.std));
    interpolation_->setCurrentIndex(static_cast<int>(p.interpolation));
    preset_->setCurrentIndex(p.toJson() == Preprocessing::imagenet().toJson() ? 1 : 0);
    suggestionText_->hide();
    suggestion_->hide();
    applied_ = preprocessing().toJson();
    updateEnabled();
}

void PreprocessingEditor::suggestSize(int channels, int height, int width)
{
    suggestedChannels_ = channels;
    suggestedHeight_ = height;
    suggestedWidth_ = width;
    suggestionText_->setText(tr("Takes %1x%2x%3:").arg(channels).arg(height).arg(width));
    suggestion_->setText(tr("Resize to %1x%2").arg(width).arg(height));
    suggestionText_->show();
    suggestion_->show();
}

} // namespace layerscope::ui
