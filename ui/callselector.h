#pragma once
// Which of a module's captures the view shows: its first call (`name`), a later one (`name:1`), or
// a tensor inside a tuple output (`name[0]`). Hidden when the module has one capture.

#include <QComboBox>

namespace layerscope::ui {

// The module a capture key belongs to: "feature_model" for "feature_model:1", "fc>in" and "enc[0]".
QString moduleOfCaptureKey(const QString& key);

class CallSelector : public QComboBox {
    Q_OBJECT

public:
    explicit CallSelector(QWidget* parent = nullptr);
    // `keys`: every capture of the shown module, in the order the forward made them.
    void setCaptures(const QStringList& keys, const QString& shown);

signals:
    void captureChosen(const QString& key);
};

} // namespace layerscope::ui
