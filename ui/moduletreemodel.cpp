#include "moduletreemodel.h"

#include <QGuiApplication>
#include <QLocale>
#include <QPalette>

#include <functional>

namespace layerscope::ui {

struct ModuleTreeModel::Item {
    ModuleInfo info;
    QString name; // qualified
    Item* parent = nullptr;
    std::vector<std::unique_ptr<Item>> children;
    int row = 0;
    // The tri-state box is painted often: counts kept up to date instead of a walk per data() call.
    bool checked = false;
    int subtreeSize = 1;  // this item and everything below it
    int checkedBelow = 0; // checked items in the subtree, this one included
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
    for (std::size_t i = items.size(); i-- > 0;) // children come after their parents
        items[i]->parent->subtreeSize += items[i]->subtreeSize;
    // Checked names of the previous model stay checked where the new one has them.
    const QSet<QString> previous = checked_;
    checked_.clear();
    for (const auto& name : previous) {
        if (Item* item = byName_.value(name, nullptr))
            setItemChecked(item, true);
    }
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
    return item->checkedBelow == item->subtreeSize ? Qt::Checked
        : item->checkedBelow > 0                   ? Qt::PartiallyChecked
                                                   : Qt::Unchecked;
}

// One item's own box; the counts of its ancestors follow. Returns whether anything changed.
bool ModuleTreeModel::setItemChecked(Item* item, bool checked)
{
    if (item->checked == checked)
        return false;
    item->checked = checked;
    if (checked)
        checked_.insert(item->name);
    else
        checked_.remove(item->name);
    const int delta = checked ? 1 : -1;
    for (Item* at = item; at; at = at->parent)
        at->checkedBelow += delta;
    return true;
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
            if (!info.unavailable.empty())
                return tr("(not in the file)");
            return calls_.value(item->name) ? shapes_.value(item->name, tr("(not a tensor)")) : tr("(did not run)");
        case CallsColumn:
            return hasRun_ && !isRoot && info.hasForward ? QVariant(calls_.value(item->name)) : QVariant();
        }
        return {};
    case Qt::ToolTipRole:
        if (isRoot)
            return tr("The model itself; its output is saved as 'output'");
        if (!info.unavailable.empty()) // ONNX: a BatchNorm folded into this convolution by the exporter
            return tr("%1 (%2): cannot be captured: %3")
                .arg(item->name, QString::fromStdString(info.typeName), QString::fromStdString(info.unavailable));
        return tr("%1 (%2), %3 parameters")
            .arg(item->name, QString::fromStdString(info.typeName),
                 QLocale().toString(qlonglong(info.totalParameters)));
    case Qt::ForegroundRole:
        return info.unavailable.empty()
            ? QVariant()
            : QVariant(QGuiApplication::palette().color(QPalette::Disabled, QPalette::Text));
    case Qt::CheckStateRole: return index.column() == NameColumn && !isRoot ? QVariant(checkState(item)) : QVariant();
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
    setItemChecked(item, checked);
    for (auto& child : item->children)
        setSubtreeChecked(child.get(), checked);
}

void ModuleTreeModel::notifySubtree(Item* item)
{
    if (item->children.empty())
        return;
    emit dataChanged(indexOf(item->children.front().get()), indexOf(item->children.back().get()), {Qt::CheckStateRole});
    for (auto& child : item->children)
        notifySubtree(child.get());
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
    notifySubtree(item);
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
        if (item->checkedBelow == 0)
            return;
        if (item->parent && item->parent != root_.get() && item->checked && item->info.hasForward
            && item->info.unavailable.empty())
            names << item->name;
        for (const auto& child : item->children)
            walk(child.get());
    };
    walk(root_.get());
    return names;
}

// No model reset: a reset collapses the user's tree and loses the selection.
void ModuleTreeModel::setCheckedModules(const QStringList& names)
{
    const QSet<QString> wanted(names.begin(), names.end());
    QList<Item*> changed;
    for (auto it = byName_.begin(); it != byName_.end(); ++it) {
        Item* item = it.value();
        if (item->parent != root_.get() && setItemChecked(item, wanted.contains(item->name)))
            changed << item;
    }
    for (Item* item : changed)
        emitCheckChangedUpwards(item);
    emit checkedModulesChanged();
}

void ModuleTreeModel::setModuleChecked(const QString& qualifiedName, bool checked, bool withChildren)
{
    Item* item = byName_.value(qualifiedName, nullptr);
    if (!item || item->parent == root_.get())
        return;
    if (withChildren) {
        setSubtreeChecked(item, checked);
        notifySubtree(item);
    } else {
        setItemChecked(item, checked);
    }
    emitCheckChangedUpwards(item);
    emit checkedModulesChanged();
}

void ModuleTreeModel::checkAllOfType(const QString& typeName)
{
    for (auto it = byName_.begin(); it != byName_.end(); ++it) {
        if (QString::fromStdString(it.value()->info.typeName) == typeName && it.value()->parent != root_.get()) {
            setSubtreeChecked(it.value(), true);
            notifySubtree(it.value());
            emitCheckChangedUpwards(it.value());
        }
    }
    emit checkedModulesChanged();
}

} // namespace layerscope::ui
