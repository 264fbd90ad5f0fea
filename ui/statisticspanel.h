#pragma once

#include "layerscope/statistics.h"

#include <QWidget>

class QLabel;

namespace layerscope::ui {

// Shape, min, max, mean, std, fraction of zeros, NaN and Inf counts of what is shown; NaN and Inf
// are highlighted when there are any.
class StatisticsPanel : public QWidget {
    Q_OBJECT

public:
    explicit StatisticsPanel(QWidget* parent = nullptr);
    void show(const QString& name, const Tensor& tensor);
    void showMessage(const QString& name, const QString& message);
    QString text() const; // all fields, for tests and the clipboard

private:
    QLabel* name_;
    QLabel* shape_;
    QLabel* min_;
    QLabel* max_;
    QLabel* mean_;
    QLabel* std_;
    QLabel* zeros_;
    QLabel* nan_;
    QLabel* inf_;
};

} // namespace layerscope::ui
