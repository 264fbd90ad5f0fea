#include "statisticspanel.h"

#include <QFormLayout>
#include <QLabel>

namespace layerscope::ui {

StatisticsPanel::StatisticsPanel(QWidget* parent)
    : QWidget(parent)
{
    auto* form = new QFormLayout(this);
    auto add = [&](const QString& label) {
        auto* value = new QLabel(this);
        value->setTextInteractionFlags(Qt::TextSelectableByMouse);
        form->addRow(label, value);
        return value;
    };
    name_ = add(tr("Capture"));
    shape_ = add(tr("Shape"));
    min_ = add(tr("Min"));
    max_ = add(tr("Max"));
    mean_ = add(tr("Mean"));
    std_ = add(tr("Std"));
    zeros_ = add(tr("Zeros"));
    nan_ = add(tr("NaN"));
    inf_ = add(tr("Inf"));
}

void StatisticsPanel::show(const QString& name, const Tensor& tensor)
{
    const TensorStatistics s = computeStatistics(tensor);
    name_->setText(name);
    shape_->setText(QString::fromStdString(shapeToString(tensor.shape) + " " + dtypeName(tensor.dtype)));
    min_->setText(QString::number(s.min, 'g', 6));
    max_->setText(QString::number(s.max, 'g', 6));
    mean_->setText(QString::number(s.mean, 'g', 6));
    std_->setText(QString::number(s.std, 'g', 6));
    zeros_->setText(QString::number(100.0 * s.zeroFraction, 'f', 1) + " %");
    auto flag = [](QLabel* label, std::int64_t count) {
        label->setText(QString::number(count));
        label->setStyleSheet(count ? QStringLiteral("color: white; background: #c0392b; padding: 0 4px;") : QString());
        label->setToolTip(count ? StatisticsPanel::tr("Not finite values: the layer or its input overflowed")
                                : QString());
    };
    flag(nan_, s.nanCount);
    flag(inf_, s.infCount);
}

void StatisticsPanel::showMessage(const QString& name, const QString& message)
{
    name_->setText(name);
    shape_->setText(message);
    for (QLabel* label : {min_, max_, mean_, std_, zeros_, nan_, inf_}) {
        label->clear();
        label->setStyleSheet({});
    }
}

QString StatisticsPanel::text() const
{
    QStringList lines;
    for (const QLabel* label : {name_, shape_, min_, max_, mean_, std_, zeros_, nan_, inf_})
        lines << label->text();
    return lines.join('\n');
}

} // namespace layerscope::ui
