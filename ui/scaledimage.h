#pragma once
// An image drawn as large as the widget allows with its aspect ratio kept (a QLabel's pixmap is cut
// when the label is squeezed), or a line of text instead of one.

#include <QImage>
#include <QWidget>

namespace layerscope::ui {

class ScaledImage : public QWidget {
    Q_OBJECT

public:
    explicit ScaledImage(QWidget* parent = nullptr);
    void setImage(const QImage& image); // pixels stay sharp squares when enlarged
    void setText(const QString& text);
    QRect drawnRect() const; // where the image is drawn: centred, aspect ratio kept
    QSize sizeHint() const override;

protected:
    void paintEvent(QPaintEvent* event) override;

private:
    QImage image_;
    QString text_;
};

} // namespace layerscope::ui
