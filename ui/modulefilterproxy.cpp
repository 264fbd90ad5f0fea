#include "modulefilterproxy.h"

#include "moduletreemodel.h"

namespace layerscope::ui {

ModuleFilterProxy::ModuleFilterProxy(QObject* parent)
    : QSortFilterProxyModel(parent)
{
    setRecursiveFilteringEnabled(true); // ancestors of a match stay visible
}

void ModuleFilterProxy::setPattern(const QString& pattern, bool regularExpression)
{
    text_ = pattern;
    useExpression_ = regularExpression;
    expression_ = QRegularExpression(pattern, QRegularExpression::CaseInsensitiveOption);
    valid_ = !regularExpression || expression_.isValid();
    invalidateFilter();
}

bool ModuleFilterProxy::filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const
{
    if (text_.isEmpty() || !valid_)
        return true;
    const QModelIndex index = sourceModel()->index(sourceRow, 0, sourceParent);
    const QString name = index.data(ModuleTreeModel::QualifiedNameRole).toString();
    const QString type = index.data(ModuleTreeModel::TypeNameRole).toString();
    if (useExpression_)
        return expression_.match(name).hasMatch() || expression_.match(type).hasMatch();
    return name.contains(text_, Qt::CaseInsensitive) || type.contains(text_, Qt::CaseInsensitive);
}

} // namespace layerscope::ui
