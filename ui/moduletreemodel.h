#pragma once

#include "layerscope/moduletree.h"

#include <QAbstractItemModel>
#include <QHash>
#include <QSet>

#include <memory>
#include <vector>

namespace layerscope::ui {

// The model's modules as a tree with checkboxes: a parent's box is tri-state and checking it checks
// everything below. Checked modules are what the export buttons write. Checked names survive a new
// model or a rerun (they are kept by qualified name); after a run the tree shows each module's
// output shape and number of calls.
class ModuleTreeModel : public QAbstractItemModel {
    Q_OBJECT

public:
    enum Column { NameColumn, TypeColumn, ParametersColumn, ShapeColumn, CallsColumn, ColumnCount };
    enum Role { QualifiedNameRole = Qt::UserRole + 1, TypeNameRole };

    explicit ModuleTreeModel(QObject* parent = nullptr);
    ~ModuleTreeModel() override;

    void setModules(const std::vector<ModuleInfo>& modules);
    // After a run: output shape text and calls per qualified name; modules missing did not run.
    void setRunInfo(const QHash<QString, QString>& shapes, const QHash<QString, int>& calls);

    QStringList checkedModules() const; // in tree order, root excluded
    void setCheckedModules(const QStringList& names);
    // "Check this module only" (its children keep their state) or "check with children".
    void setModuleChecked(const QString& qualifiedName, bool checked, bool withChildren);
    void checkAllOfType(const QString& typeName);
    QModelIndex indexOfModule(const QString& qualifiedName) const;
    QStringList moduleNames() const { return byName_.keys(); }

    QModelIndex index(int row, int column, const QModelIndex& parent = {}) const override;
    QModelIndex parent(const QModelIndex& child) const override;
    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    bool setData(const QModelIndex& index, const QVariant& value, int role = Qt::EditRole) override;
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

signals:
    void checkedModulesChanged();

private:
    struct Item;
    Item* itemAt(const QModelIndex& index) const;
    Qt::CheckState checkState(const Item* item) const;
    bool setItemChecked(Item* item, bool checked);
    void setSubtreeChecked(Item* item, bool checked);
    void notifySubtree(Item* item);
    void emitCheckChangedUpwards(Item* item);
    QModelIndex indexOf(const Item* item, int column = 0) const;

    std::unique_ptr<Item> root_; // invisible; its one child is the model itself
    QHash<QString, Item*> byName_;
    QSet<QString> checked_; // leaves and parents alike, by qualified name
    QHash<QString, QString> shapes_;
    QHash<QString, int> calls_;
    bool hasRun_ = false;
};

} // namespace layerscope::ui
