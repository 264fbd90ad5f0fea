#include "channeldialog.h"

#include "activationplots.h"
#include "featuremapview.h"

#include <QCheckBox>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QLabel>
#include <QPainter>
#include <QPushButton>
#include <QSaveFile>
#include <QSlider>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace layerscope::ui {

namespace {

constexpr int kOverlaySize = 256;
constexpr int kSmallestSavedSide = 256;

} // namespace

ChannelDialog::ChannelDialog(const QString& title, const Tensor& values, int channel, Colormap colormap,
                             const QImage& input, QWidget* parent)
    : QDialog(parent)
    , view_(new FeatureMapView(this))
    , input_(input)
    , overlayLabel_(new QLabel(this))
    , opacity_(new QSlider(Qt::Horizontal, this))
{
    setWindowTitle(title);
    view_->setColormap(colormap);
    view_->setReportedChannel(channel);
    view_->setActivation(values);
    auto* smooth = new QCheckBox(tr("Smooth"), this);
    smooth->setToolTip(tr("Interpolate between values (bilinear) instead of drawing each value as a square"));
    connect(smooth, &QCheckBox::toggled, view_, &FeatureMapView::setSmooth);
    opacity_->setRange(0, 100);
    opacity_->setValue(50);
    opacity_->setToolTip(tr("Opacity of the channel over the input image"));
    auto* plots = new ActivationPlots(this);
    plots->setHistogramOnly(true);
    plots->setActivation(values, 0);
    auto* hover = new QLabel(this);
    hover->setMinimumWidth(200);
    connect(view_, &FeatureMapView::hovered, hover, &QLabel::setText);
    connect(opacity_, &QSlider::valueChanged, this, &ChannelDialog::drawOverlay);
    drawOverlay();

    auto* save = new QPushButton(tr("Save as PNG…"), this);
    save->setToolTip(tr("Save this channel, in its colours and at least the input's size, as a PNG image"));
    connect(save, &QPushButton::clicked, this, [this, channel] {
        const QString path = QFileDialog::getSaveFileName(
            this, tr("Save the channel"), QStringLiteral("channel%1.png").arg(channel), tr("PNG (*.png)"));
        if (!path.isEmpty() && !saveImage(path))
            emit failed(tr("%1: cannot write").arg(path));
    });

    auto* side = new QVBoxLayout;
    side->addWidget(new QLabel(tr("Over the input:"), this));
    side->addWidget(overlayLabel_);
    side->addWidget(opacity_);
    side->addStretch();
    auto* top = new QHBoxLayout;
    top->addWidget(view_, 1);
    top->addLayout(side);
    auto* bottom = new QHBoxLayout;
    bottom->addWidget(hover, 1);
    bottom->addWidget(smooth);
    bottom->addWidget(save);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top, 2);
    layout->addLayout(bottom);
    layout->addWidget(plots, 1);
    resize(800, 700);
}

// Bilinear over the input: a feature map is a coarse sampling of a smooth response.
void ChannelDialog::drawOverlay()
{
    if (input_.isNull())
        return;
    overlay_ = input_.scaled(kOverlaySize, kOverlaySize, Qt::KeepAspectRatio, Qt::SmoothTransformation)
                   .convertToFormat(QImage::Format_RGB888);
    const QImage map = view_->gridImage().scaled(overlay_.size(), Qt::IgnoreAspectRatio, Qt::SmoothTransformation);
    QPainter painter(&overlay_);
    painter.setOpacity(opacity_->value() / 100.0);
    painter.drawImage(0, 0, map);
    painter.end();
    overlayLabel_->setPixmap(QPixmap::fromImage(overlay_));
}

QImage ChannelDialog::upscaledImage() const
{
    const QImage& map = view_->gridImage();
    if (map.isNull())
        return {};
    const QSize wanted = input_.isNull() ? QSize(kSmallestSavedSide, kSmallestSavedSide) : input_.size();
    const int factor = std::max({1, int(std::ceil(double(wanted.width()) / map.width())),
                                 int(std::ceil(double(wanted.height()) / map.height()))});
    return map.scaled(map.size() * factor, Qt::IgnoreAspectRatio, Qt::FastTransformation);
}

bool ChannelDialog::saveImage(const QString& path)
{
    QSaveFile file(path); // renamed into place only when complete
    return file.open(QIODevice::WriteOnly) && upscaledImage().save(&file, "PNG") && file.commit();
}

} // namespace layerscope::ui
