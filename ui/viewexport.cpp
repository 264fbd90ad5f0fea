#include "viewexport.h"

#include <qcustomplot.h>

#include <QApplication>
#include <QFileInfo>
#include <QPainter>
#include <QPdfWriter>
#include <QSvgGenerator>

#include <algorithm>
#include <array>
#include <cmath>

namespace layerscope::ui {

namespace {

QString temporaryFor(const QString& path)
{
    return QFileInfo(path).dir().filePath("." + QFileInfo(path).fileName() + ".partial");
}

bool moveIntoPlace(bool ok, const QString& temporary, const QString& path)
{
    ok = ok && (!QFile::exists(path) || QFile::remove(path)) && QFile::rename(temporary, path);
    QFile::remove(temporary);
    return ok;
}

// 256 colours of a colormap, computed once per colormap.
const QImage& colormapStrip(Colormap colormap)
{
    static std::array<QImage, 8> strips;
    QImage& strip = strips[std::size_t(colormap)];
    if (strip.isNull()) {
        strip = QImage(256, 1, QImage::Format_RGB888);
        for (int i = 0; i < 256; ++i) {
            const auto c = colormapColor(colormap, i / 255.0);
            strip.setPixelColor(i, 0, QColor(c[0], c[1], c[2]));
        }
    }
    return strip;
}

void drawGridPicture(QPainter& painter, const GridPicture& p, int scale, const QSize& size)
{
    painter.fillRect(QRect(QPoint(0, 0), size), Qt::white);
    painter.setPen(Qt::black);
    const int line = painter.fontMetrics().height();
    const int margin = 8;
    painter.drawText(QRect(margin, margin, size.width() - 2 * margin, line), Qt::AlignLeft, p.title);
    const QRect gridRect(margin, margin + line + 4, p.grid.width() * scale, p.grid.height() * scale);
    painter.drawImage(gridRect, p.grid);
    const int tileWidth = p.layout.tileWidth * scale, tileHeight = p.layout.tileHeight * scale;
    if (tileWidth >= 24 && tileHeight >= 16) { // channel numbers where they fit
        QFont small = painter.font();
        small.setPixelSize(std::clamp(tileHeight / 5, 8, 12));
        painter.setFont(small);
        const int tiles = int(p.channelOrder.empty() ? p.layout.columns * p.layout.rows : p.channelOrder.size());
        for (int tile = 0; tile < tiles; ++tile) {
            const int channel = p.channelOrder.empty() ? tile : p.channelOrder[std::size_t(tile)];
            const QPoint at = gridRect.topLeft()
                + QPoint((tile % p.layout.columns) * (p.layout.tileWidth + p.layout.gap) * scale,
                         (tile / p.layout.columns) * (p.layout.tileHeight + p.layout.gap) * scale);
            const QString text = QString::number(channel);
            const QRect box(at + QPoint(1, 1),
                            QSize(painter.fontMetrics().horizontalAdvance(text) + 4, painter.fontMetrics().height()));
            painter.fillRect(box, QColor(255, 255, 255, 190));
            painter.drawText(box, Qt::AlignCenter, text);
        }
        painter.setFont(QFont());
    }
    const QRect bar(margin, gridRect.bottom() + 10, std::min(300, size.width() - 2 * margin), 14);
    drawColorBar(painter, bar, p.colormap, p.low, p.high, p.perChannel);
}

} // namespace

// PNG, PDF or SVG by the extension, under a temporary name renamed into place when complete.
bool savePlot(QCustomPlot* plot, const QString& path)
{
    const QString suffix = QFileInfo(path).suffix().toLower();
    const QString temporary = temporaryFor(path);
    bool ok = false;
    if (suffix == "pdf") {
        ok = plot->savePdf(temporary);
    } else if (suffix == "svg") {
        QSvgGenerator svg;
        svg.setFileName(temporary);
        svg.setSize(plot->size());
        svg.setViewBox(plot->rect());
        QCPPainter painter;
        ok = painter.begin(&svg);
        if (ok) {
            plot->toPainter(&painter, plot->width(), plot->height());
            ok = painter.end();
        }
    } else {
        ok = plot->savePng(temporary);
    }
    return moveIntoPlace(ok, temporary, path);
}

bool saveGridPicture(const GridPicture& picture, const QString& path)
{
    if (picture.grid.isNull())
        return false;
    // Tiles of at least 48 pixels where the picture stays within 4096 pixels.
    const int tile = std::max(1, std::min(picture.layout.tileWidth, picture.layout.tileHeight));
    const int longest = std::max(picture.grid.width(), picture.grid.height());
    const int scale = std::max(1, std::min(int(std::ceil(48.0 / tile)), 4096 / std::max(1, longest)));
    const QFontMetrics metrics {QFont()};
    const QSize size(std::max(picture.grid.width() * scale + 16, 330),
                     picture.grid.height() * scale + 16 + metrics.height() * 2 + 4 + 30);
    const QString suffix = QFileInfo(path).suffix().toLower();
    const QString temporary = temporaryFor(path);
    bool ok = false;
    if (suffix == "svg") {
        QSvgGenerator svg;
        svg.setFileName(temporary);
        svg.setSize(size);
        svg.setViewBox(QRect(QPoint(0, 0), size));
        svg.setTitle(picture.title);
        QPainter painter;
        ok = painter.begin(&svg);
        if (ok) {
            drawGridPicture(painter, picture, scale, size);
            ok = painter.end();
        }
    } else if (suffix == "pdf") {
        QPdfWriter pdf(temporary);
        pdf.setTitle(picture.title);
        pdf.setResolution(96);
        pdf.setPageSize(QPageSize(QSizeF(size), QPageSize::Point));
        pdf.setPageMargins(QMarginsF(0, 0, 0, 0));
        QPainter painter;
        ok = painter.begin(&pdf);
        if (ok) {
            drawGridPicture(painter, picture, scale, size);
            ok = painter.end();
        }
    } else {
        QImage image(size, QImage::Format_RGB888);
        QPainter painter(&image);
        drawGridPicture(painter, picture, scale, size);
        painter.end();
        ok = image.save(temporary, "PNG");
    }
    return moveIntoPlace(ok, temporary, path);
}

void drawColorBar(QPainter& painter, const QRect& bar, Colormap colormap, double low, double high, bool perChannel)
{
    painter.drawImage(bar, colormapStrip(colormap));
    if (colormap == Colormap::Diverging) {
        const double bound = std::max(std::abs(low), std::abs(high));
        low = -bound;
        high = bound;
    }
    const QRect below(bar.left(), bar.bottom() + 2, bar.width(), painter.fontMetrics().height());
    if (perChannel) {
        painter.drawText(below, Qt::AlignLeft, QStringLiteral("0"));
        painter.drawText(below, Qt::AlignRight, QStringLiteral("1"));
        const int room = below.width() - 2 * painter.fontMetrics().horizontalAdvance(QStringLiteral("10"));
        painter.drawText(
            below, Qt::AlignHCenter,
            painter.fontMetrics().elidedText(QObject::tr("of each channel's own range"), Qt::ElideRight, room));
    } else {
        painter.drawText(below, Qt::AlignLeft, QString::number(low, 'g', 4));
        painter.drawText(below, Qt::AlignRight, QString::number(high, 'g', 4));
    }
}

} // namespace layerscope::ui
