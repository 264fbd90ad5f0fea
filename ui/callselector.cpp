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
        // "name:1>in[0]": call 1, inputs, first argument.
        const int arrow = key.indexOf(QLatin1String(">in"));
        const QString head = arrow < 0 ? key : key.left(arrow);
        const QString call = head.section(':', 1, 1).section('[', 0, 0);
        QString label = call.isEmpty() ? tr("call 0") : tr("call %1").arg(call);
        if (arrow >= 0)
            label += tr(", inputs") + key.mid(arrow + 3);
        else if (key.contains('['))
            label += ' ' + key.mid(key.indexOf('['));
        addItem(label, key);
        setItemData(count() - 1, key, Qt::ToolTipRole);
    }
    setCurrentIndex(std::max(0, findData(shown)));
    setVisible(keys.size() > 1);
}

} // namespace layerscope::ui
