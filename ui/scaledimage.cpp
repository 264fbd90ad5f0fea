#include "scaledimage.h"

#include <QPainter>

namespace layerscope::ui {

ScaledImage::ScaledImage(QWidget* parent)
    : QWidget(parent)
{
    setMinimumSize(96, 96);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
}

void ScaledImage::setImage(const QImage& image)
{
    image_ = image;
    text_.clear();
    update();
}

void ScaledImage::setText(const QString& text)
{
    image_ = QImage();
    text_ = text;
    update();
}

QRect ScaledImage::drawnRect() const
{
    if (image_.isNull())
        return {};
    const QSize size = image_.size().scaled(rect().size().boundedTo(QSize(256, 256)), Qt::KeepAspectRatio);
    return QRect(QPoint((width() - size.width()) / 2, (height() - size.height()) / 2), size);
}

QSize ScaledImage::sizeHint() const { return {256, 256}; }

void ScaledImage::paintEvent(QPaintEvent*)
{
    QPainter painter(this);
    if (image_.isNull()) {
        painter.drawText(rect(), Qt::AlignCenter | Qt::TextWordWrap, text_);
        return;
    }
    painter.drawImage(drawnRect(), image_);
}

} // namespace layerscope::ui
