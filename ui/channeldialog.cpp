#include "channeldialog.h"

#include "activationplots.h"
#include "featuremapview.h"

#include <QFileDialog>
#include <QHBoxLayout>
#include <QLabel>
#include <QPainter>
#include <QPushButton>
#include <QSaveFile>
#include <QSlider>
#include <QVBoxLayout>

namespace layerscope::ui {

ChannelDialog::ChannelDialog(const QString& title, const Tensor& channel, Colormap colormap, const QImage& input,
                             QWidget* parent)
    : QDialog(parent)
{
    setWindowTitle(title);
    auto* view = new FeatureMapView(this);
    view->setColormap(colormap);
    view->setActivation(channel);
    auto* overlay = new QLabel(this);
    auto* opacity = new QSlider(Qt::Horizontal, this);
    opacity->setRange(0, 100);
    opacity->setValue(50);
    opacity->setToolTip(tr("Opacity of the channel over the input image"));
    auto* plots = new ActivationPlots(this);
    plots->setHistogramOnly(true);
    plots->setActivation(channel, 0);
    auto* hover = new QLabel(this);
    connect(view, &FeatureMapView::hovered, hover, &QLabel::setText);

    auto drawOverlay = [overlay, view, input, opacity] {
        if (input.isNull())
            return;
        QImage blended = input.scaled(256, 256, Qt::KeepAspectRatio, Qt::SmoothTransformation).convertToFormat(QImage::Format_RGB888);
        QPainter painter(&blended);
        painter.setOpacity(opacity->value() / 100.0);
        painter.drawImage(blended.rect(), view->gridImage());
        overlay->setPixmap(QPixmap::fromImage(blended));
    };
    connect(opacity, &QSlider::valueChanged, this, drawOverlay);
    drawOverlay();

    auto* save = new QPushButton(tr("Save as PNG…"), this);
    save->setToolTip(tr("Save this channel, in its colours, as a PNG image"));
    connect(save, &QPushButton::clicked, this, [this, view] {
        const QString path = QFileDialog::getSaveFileName(this, tr("Save the channel"), QStringLiteral("channel.png"),
                                                          tr("PNG (*.png)"));
        if (path.isEmpty())
            return;
        QSaveFile file(path); // renamed into place only when complete
        if (!(file.open(QIODevice::WriteOnly) && view->gridImage().save(&file, "PNG") && file.commit()))
            emit failed(tr("%1: cannot write").arg(path));
    });

    auto* side = new QVBoxLayout;
    side->addWidget(new QLabel(tr("Over the input:"), this));
    side->addWidget(overlay);
    side->addWidget(opacity);
    side->addStretch();
    auto* top = new QHBoxLayout;
    top->addWidget(view, 1);
    top->addLayout(side);
    auto* bottom = new QHBoxLayout;
    bottom->addWidget(hover, 1);
    bottom->addWidget(save);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top, 2);
    layout->addLayout(bottom);
    layout->addWidget(plots, 1);
    resize(800, 700);
}

} // namespace layerscope::ui
