#include "atlasexport.h"

#include <QImageWriter>
#include <QListWidget>
#include <QPainter>
#include <QSaveFile>
#include <QTextStream>

#include <cmath>

namespace layerscope::ui {

namespace {

QString number(double value) { return std::isnan(value) ? QStringLiteral("nan") : QString::number(value, 'g', 17); }

QString csvField(QString text)
{
    static const QRegularExpression special(QStringLiteral("[\",\\n]")); // compiled once, not per row
    if (text.contains(special))
        text = '"' + text.replace('"', QStringLiteral("\"\"")) + '"';
    return text;
}

} // namespace

bool writeChannelStatisticsCsv(const AtlasLayer& layer, const QString& path)
{
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Text))
        return false;
    QTextStream out(&file);
    out << "channel,mean,std,min,max,active,nan,inf,dead\n";
    for (std::size_t c = 0; c < layer.statistics.size(); ++c) {
        const ChannelStatistics& s = layer.statistics[c];
        const bool any = s.values > 0;
        out << c << ',' << number(any ? s.mean : NAN) << ',' << number(s.std()) << ',' << number(any ? s.min : NAN)
            << ',' << number(any ? s.max : NAN) << ',' << number(s.activeFraction()) << ',' << s.nan << ',' << s.inf
            << ',' << (s.dead() ? 1 : 0) << '\n';
    }
    out.flush();
    return file.commit();
}

bool writeProjectionCsv(const Atlas& atlas, const Projection& projection, const QString& path)
{
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Text))
        return false;
    QTextStream out(&file);
    out << "file,x,y,predicted_class\n";
    for (std::size_t i = 0; i < projection.x.size() && i < atlas.files().size(); ++i)
        out << csvField(QString::fromStdString(atlas.files()[i])) << ',' << number(projection.x[i]) << ','
            << number(projection.y[i]) << ',' << atlas.predictedClass()[i] << '\n';
    out.flush();
    return file.commit();
}

bool savePatchGrid(const QListWidget& patches, const QString& title, const QString& path)
{
    const int count = patches.count(), columns = std::max(1, std::min(count, 5));
    const int rows = std::max(1, (count + columns - 1) / columns);
    const QSize icon = patches.iconSize();
    const int captionHeight = 2 * QFontMetrics(patches.font()).height() + 4, cellW = icon.width() + 12;
    const int cellH = icon.height() + captionHeight + 8, titleHeight = QFontMetrics(patches.font()).height() + 12;
    QImage image(columns * cellW + 8, titleHeight + rows * cellH + 8, QImage::Format_RGB32);
    image.fill(Qt::white);
    QPainter painter(&image);
    painter.setFont(patches.font());
    painter.setPen(Qt::black);
    painter.drawText(QRect(8, 4, image.width() - 16, titleHeight), Qt::AlignLeft | Qt::AlignVCenter, title);
    for (int i = 0; i < count; ++i) {
        const QListWidgetItem* item = patches.item(i);
        const QPoint origin(8 + (i % columns) * cellW, titleHeight + (i / columns) * cellH);
        painter.drawPixmap(origin, item->icon().pixmap(icon));
        painter.drawText(QRect(origin.x(), origin.y() + icon.height() + 2, cellW - 4, captionHeight),
                         Qt::AlignHCenter | Qt::AlignTop, item->text());
    }
    painter.end();
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly))
        return false;
    QImageWriter writer(&file, "png");
    return writer.write(image) && file.commit();
}

} // namespace layerscope::ui
