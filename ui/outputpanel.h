#pragma once

#include "layerscope/tensor.h"

#include <QWidget>

class QTableWidget;
class QLabel;

namespace layerscope::ui {

// The model's output as the top-k classes with their softmax scores, named by a labels file when
// one is given (one name a line, in output order).
class OutputPanel : public QWidget {
    Q_OBJECT

public:
    explicit OutputPanel(QWidget* parent = nullptr);
    void setLabels(const QStringList& labels);
    void showOutput(const Tensor& output, int sample, int k = 5);
    void clear();
    QString topClass() const; // "Ankle boot (97.1 %)", or empty

signals:
    void classActivated(int classIndex); // a row clicked: explain this class

private:
    QStringList labels_;
    QLabel* summary_;
    QTableWidget* table_;
};

QStringList readLabelsFile(const QString& path); // empty when unreadable

} // namespace layerscope::ui
