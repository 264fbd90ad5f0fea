#include "callselector.h"

#include <QRegularExpression>

namespace layerscope::ui {

QString moduleOfCaptureKey(const QString& key)
{
    static const QRegularExpression end(QStringLiteral("[:>\\[]"));
    const int at = key.indexOf(end);
    return at < 0 ? key : key.left(at);
}

CallSelector::CallSelector(QWidget* parent)
    : QComboBox(parent)
{
    setToolTip(tr("A module called more than once (a shared encoder, a Siamese branch) has a capture per call: "
                  "name, name:1, ...; a tuple output one per tensor"));
    setSizeAdjustPolicy(QComboBox::AdjustToContents);
    connect(this, &QComboBox::activated, this, [this](int index) { emit captureChosen(itemData(index).toString()); });
    hide();
}

void CallSelector::setCaptures(const QStringList& keys, const QString& shown)
{
    const QSignalBlocker blocker(this);
    clear();
    for (const QString& key : keys) {
        const QString call = key.section(':', 1, 1).section('[', 0, 0).section('>', 0, 0);
        addItem(call.isEmpty() ? (key.contains('[') ? key.mid(key.indexOf('[')) : tr("call 0"))
                               : tr("call %1").arg(call),
                key);
        setItemData(count() - 1, key, Qt::ToolTipRole);
    }
    setCurrentIndex(std::max(0, findData(shown)));
    setVisible(keys.size() > 1);
}

} // namespace layerscope::ui
