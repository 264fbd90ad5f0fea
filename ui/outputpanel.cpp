#include "outputpanel.h"

#include "layerscope/statistics.h"

#include <QFile>
#include <QHeaderView>
#include <QLabel>
#include <QTableWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace layerscope::ui {

QStringList readLabelsFile(const QString& path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly | QIODevice::Text))
        return {};
    QStringList labels;
    for (const QByteArray& line : file.readAll().split('\n')) {
        if (!line.trimmed().isEmpty())
            labels << QString::fromUtf8(line.trimmed());
    }
    return labels;
}

OutputPanel::OutputPanel(QWidget* parent)
    : QWidget(parent)
    , summary_(new QLabel(this))
    , table_(new QTableWidget(0, 3, this))
{
    table_->setHorizontalHeaderLabels({tr("Class"), tr("Score"), tr("Logit")});
    // The class name takes what the numbers leave.
    table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    table_->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    table_->setWordWrap(false);
    table_->setTextElideMode(Qt::ElideMiddle);
    table_->verticalHeader()->hide();
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    connect(table_, &QTableWidget::cellClicked, this, [this](int row) {
        if (const QTableWidgetItem* item = table_->item(row, 0))
            emit classActivated(item->data(Qt::UserRole).toInt());
    });
    summary_->setWordWrap(true);
    QFont font = summary_->font();
    font.setBold(true);
    summary_->setFont(font);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(summary_);
    layout->addWidget(table_);
}

void OutputPanel::setLabels(const QStringList& labels) { labels_ = labels; }

void OutputPanel::clear()
{
    summary_->clear();
    table_->setRowCount(0);
}

void OutputPanel::showOutput(const Tensor& output, int sample, int k)
{
    clear();
    if (output.shape.size() != 2 || sample >= output.shape[0]) {
        summary_->setText(
            tr("Output %1: not a vector of class scores").arg(QString::fromStdString(shapeToString(output.shape))));
        return;
    }
    const std::vector<double> logits = valuesAsDoubles(sampleOf(output, sample));
    const double top = *std::max_element(logits.begin(), logits.end());
    std::vector<double> scores(logits.size());
    double sum = 0;
    for (std::size_t i = 0; i < logits.size(); ++i)
        sum += scores[i] = std::exp(logits[i] - top);
    for (auto& s : scores)
        s /= sum;
    std::vector<int> order(logits.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return scores[std::size_t(a)] > scores[std::size_t(b)]; });
    k = std::min<int>(k, int(order.size()));
    table_->setRowCount(k);
    for (int row = 0; row < k; ++row) {
        const int c = order[std::size_t(row)];
        const QString name = c < labels_.size() ? labels_[c] : tr("class %1").arg(c);
        auto* item = new QTableWidgetItem(name);
        item->setData(Qt::UserRole, c);
        item->setToolTip(tr("Click: explain why the model would predict %1 (the Explain tab)").arg(name));
        table_->setItem(row, 0, item);
        table_->setItem(row, 1, new QTableWidgetItem(QString::number(100 * scores[std::size_t(c)], 'f', 1) + " %"));
        table_->setItem(row, 2, new QTableWidgetItem(QString::number(logits[std::size_t(c)], 'g', 5)));
    }
    summary_->setText(
        tr("Predicted: %1 (%2 %)").arg(table_->item(0, 0)->text()).arg(100 * scores[std::size_t(order[0])], 0, 'f', 1));
}

QString OutputPanel::topClass() const { return table_->rowCount() ? table_->item(0, 0)->text() : QString(); }

} // namespace layerscope::ui
