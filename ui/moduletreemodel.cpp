#include "moduletreemodel.h"

#include <QLocale>

#include <functional>

namespace layerscope::ui {

struct ModuleTreeModel::Item {
    ModuleInfo info;
    QString name; // qualified
    Item* parent = nullptr;
    std::vector<std::unique_ptr<Item>> children;
    int row = 0;
};

ModuleTreeModel::ModuleTreeModel(QObject* parent)
    : QAbstractItemModel(parent)
    , root_(std::make_unique<Item>())
{
}

ModuleTreeModel::~ModuleTreeModel() = default;

void ModuleTreeModel::setModules(const std::vector<ModuleInfo>& modules)
{
    beginResetModel();
    root_ = std::make_unique<Item>();
    byName_.clear();
    shapes_.clear();
    calls_.clear();
    hasRun_ = false;
    std::vector<Item*> items(modules.size(), nullptr);
    for (std::size_t i = 0; i < modules.size(); ++i) {
        auto item = std::make_unique<Item>();
        item->info = modules[i];
        item->name = QString::fromStdString(modules[i].name);
        Item* parent = modules[i].parent >= 0 ? items[std::size_t(modules[i].parent)] : root_.get();
        item->parent = parent;
        item->row = int(parent->children.size());
        items[i] = item.get();
        byName_.insert(item->name, item.get());
        parent->children.push_back(std::move(item));
    }
    // Checked names of the previous model stay checked where the new one has them.
    QSet<QString> kept;
    for (const auto& name : std::as_const(checked_)) {
        if (byName_.contains(name))
            kept.insert(name);
    }
    checked_ = kept;
    endResetModel();
    emit checkedModulesChanged();
}

void ModuleTreeModel::setRunInfo(const QHash<QString, QString>& shapes, const QHash<QString, int>& calls)
{
    shapes_ = shapes;
    calls_ = calls;
    hasRun_ = true;
    if (!root_->children.empty())
        emit dataChanged(index(0, ShapeColumn), index(rowCount() - 1, CallsColumn)); // the root's row
    std::function<void(Item*)> notify = [&](Item* item) {
        if (!item->children.empty())
            emit dataChanged(indexOf(item->children.front().get(), ShapeColumn),
                             indexOf(item->children.back().get(), CallsColumn));
        for (auto& child : item->children)
            notify(child.get());
    };
    for (auto& child : root_->children)
        notify(child.get());
}

ModuleTreeModel::Item* ModuleTreeModel::itemAt(const QModelIndex& index) const
{
    return index.isValid() ? static_cast<Item*>(index.internalPointer()) : root_.get();
}

QModelIndex ModuleTreeModel::indexOf(const Item* item, int column) const
{
    if (!item || item == root_.get())
        return {};
    return createIndex(item->row, column, const_cast<Item*>(item));
}

QModelIndex ModuleTreeModel::indexOfModule(const QString& qualifiedName) const
{
    return indexOf(byName_.value(qualifiedName, nullptr));
}

QModelIndex ModuleTreeModel::index(int row, int column, const QModelIndex& parent) const
{
    const Item* item = itemAt(parent);
    if (row < 0 || column < 0 || column >= ColumnCount || row >= int(item->children.size()))
        return {};
    return createIndex(row, column, item->children[std::size_t(row)].get());
}

QModelIndex ModuleTreeModel::parent(const QModelIndex& child) const
{
    if (!child.isValid())
        return {};
    return indexOf(itemAt(child)->parent);
}

int ModuleTreeModel::rowCount(const QModelIndex& parent) const
{
    if (parent.isValid() && parent.column() != 0)
        return 0;
    return int(itemAt(parent)->children.size());
}

int ModuleTreeModel::columnCount(const QModelIndex&) const { return ColumnCount; }

// Checked when the module and everything below it are checked; partly when some of them are.
Qt::CheckState ModuleTreeModel::checkState(const Item* item) const
{
    const bool self = checked_.contains(item->name);
    bool all = self, any = self;
    for (const auto& child : item->children) {
        const Qt::CheckState state = checkState(child.get());
        all = all && state == Qt::Checked;
        any = any || state != Qt::Unchecked;
    }
    return all ? Qt::Checked : any ? Qt::PartiallyChecked : Qt::Unchecked;
}

QVariant ModuleTreeModel::data(const QModelIndex& index, int role) const
{
    if (!index.isValid())
        return {};
    const Item* item = itemAt(index);
    const ModuleInfo& info = item->info;
    const bool isRoot = item->parent == root_.get();
    switch (role) {
    case Qt::DisplayRole:
        switch (index.column()) {
        case NameColumn: return isRoot ? tr("(model)") : item->name.mid(item->name.lastIndexOf('.') + 1);
        case TypeColumn: return QString::fromStdString(info.typeName);
        case ParametersColumn: return QLocale().toString(qlonglong(info.totalParameters));
        case ShapeColumn:
            if (!hasRun_)
                return {};
            if (isRoot)
                return shapes_.value(QStringLiteral("output"));
            if (!info.hasForward)
                return tr("(container, no forward)");
            return calls_.value(item->name) ? shapes_.value(item->name, tr("(not a tensor)")) : tr("(did not run)");
        case CallsColumn: return hasRun_ && !isRoot && info.hasForward ? QVariant(calls_.value(item->name)) : QVariant();
        }
        return {};
    case Qt::ToolTipRole:
        return isRoot ? tr("The model itself; its output is saved as 'output'")
                      : tr("%1 (%2), %3 parameters").arg(item->name, QString::fromStdString(info.typeName),
                                                         QLocale().toString(qlonglong(info.totalParameters)));
    case Qt::CheckStateRole:
        return index.column() == NameColumn && !isRoot ? QVariant(checkState(item)) : QVariant();
    case Qt::TextAlignmentRole:
        return index.column() == ParametersColumn || index.column() == CallsColumn
            ? QVariant(Qt::AlignRight | Qt::AlignVCenter)
            : QVariant();
    case QualifiedNameRole: return item->name;
    case TypeNameRole: return QString::fromStdString(info.typeName);
    }
    return {};
}

void ModuleTreeModel::setSubtreeChecked(Item* item, bool checked)
{
    if (checked)
        checked_.insert(item->name);
    else
        checked_.remove(item->name);
    for (auto& child : item->children)
        setSubtreeChecked(child.get(), checked);
}

void ModuleTreeModel::emitCheckChangedUpwards(Item* item)
{
    for (Item* at = item; at && at != root_.get(); at = at->parent) {
        const QModelIndex i = indexOf(at);
        emit dataChanged(i, i, {Qt::CheckStateRole});
    }
}

bool ModuleTreeModel::setData(const QModelIndex& index, const QVariant& value, int role)
{
    if (!index.isValid() || role != Qt::CheckStateRole || index.column() != NameColumn)
        return false;
    Item* item = itemAt(index);
    if (item->parent == root_.get())
        return false;
    setSubtreeChecked(item, value.toInt() != Qt::Unchecked);
    std::function<void(Item*)> notifyDown = [&](Item* at) {
        if (!at->children.empty())
            emit dataChanged(indexOf(at->children.front().get()), indexOf(at->children.back().get()),
                             {Qt::CheckStateRole});
        for (auto& child : at->children)
            notifyDown(child.get());
    };
    notifyDown(item);
    emitCheckChangedUpwards(item);
    emit checkedModulesChanged();
    return true;
}

Qt::ItemFlags ModuleTreeModel::flags(const QModelIndex& index) const
{
    if (!index.isValid())
        return Qt::NoItemFlags;
    Qt::ItemFlags flags = Qt::ItemIsEnabled | Qt::ItemIsSelectable;
    if (index.column() == NameColumn && itemAt(index)->parent != root_.get())
        flags |= Qt::ItemIsUserCheckable;
    return flags;
}

QVariant ModuleTreeModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case NameColumn: return tr("Module");
    case TypeColumn: return tr("Type");
    case ParametersColumn: return tr("Parameters");
    case ShapeColumn: return tr("Output shape");
    case CallsColumn: return tr("Calls");
    }
    return {};
}

QStringList ModuleTreeModel::checkedModules() const
{
    QStringList names;
    std::function<void(const Item*)> walk = [&](const Item* item) {
        if (item->parent && item->parent != root_.get() && checked_.contains(item->name) && item->info.hasForward)
            names << item->name;
        for (const auto& child : item->children)
            walk(child.get());
    };
    walk(root_.get());
    return names;
}

void ModuleTreeModel::setCheckedModules(const QStringList& names)
{
    beginResetModel();
    checked_.clear();
    for (const auto& name : names) {
        if (byName_.contains(name))
            checked_.insert(name);
    }
    endResetModel();
    emit checkedModulesChanged();
}

void ModuleTreeModel::checkAllOfType(const QString& typeName)
{
    for (auto it = byName_.begin(); it != byName_.end(); ++it) {
        if (QString::fromStdString(it.value()->info.typeName) == typeName && it.value()->parent != root_.get()) {
            setSubtreeChecked(it.value(), true);
            emitCheckChangedUpwards(it.value());
        }
    }
    emit checkedModulesChanged();
}

} // namespace layerscope::ui
