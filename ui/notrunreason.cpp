#include "notrunreason.h"

#include <QCoreApplication>

namespace layerscope::ui {

QString notRunReason(const Model& model, const RunResult& run, const QString& key)
{
    auto tr = [](const char* text) { return QCoreApplication::translate("layerscope::ui::MainWindow", text); };
    const int index = model.findModule(key.toStdString());
    if (index >= 0 && !model.modules()[std::size_t(index)].hasForward)
        return tr("'%1' is a container without a forward: its children run, it does not").arg(key);
    for (const auto& skipped : run.skipped) {
        if (QString::fromStdString(skipped.key) == key)
            return tr("'%1' returned %2, not a tensor").arg(key, QString::fromStdString(skipped.typeName));
    }
    return tr("'%1' did not run in this forward").arg(key);
}

} // namespace layerscope::ui
