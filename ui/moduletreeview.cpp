#include "moduletreeview.h"

#include "moduletreemodel.h"

#include <QHeaderView>
#include <QMenu>
#include <QScrollBar>
#include <QSettings>
#include <QTimer>

namespace layerscope::ui {

namespace {

constexpr auto kHiddenColumnsKey = "modules/hiddenColumns";

} // namespace

ModuleTreeView::ModuleTreeView(QWidget* parent)
    : QTreeView(parent)
{
    setUniformRowHeights(true);
    setIndentation(14); // resnet's layer4.0.downsample.1 sits five levels deep
    setContextMenuPolicy(Qt::CustomContextMenu);
    setToolTip(tr("Click a module to see its activation; check modules to export them"));
    header()->setStretchLastSection(false);
    header()->setContextMenuPolicy(Qt::CustomContextMenu);
    header()->setToolTip(tr("Right-click to show or hide columns"));
    connect(header(), &QHeaderView::customContextMenuRequested, this, &ModuleTreeView::showHeaderMenu);
    // Another column growing (shapes arrive with a run) or a branch opening changes what fits.
    connect(header(), &QHeaderView::sectionResized, this, [this](int column) {
        if (column != ModuleTreeModel::NameColumn)
            fitNameColumn();
    });
    connect(this, &QTreeView::expanded, this, &ModuleTreeView::fitNameColumn);
    connect(this, &QTreeView::collapsed, this, &ModuleTreeView::fitNameColumn);
}

void ModuleTreeView::setModel(QAbstractItemModel* model)
{
    QTreeView::setModel(model);
    QHeaderView* columns = header();
    columns->setSectionResizeMode(QHeaderView::ResizeToContents);
    columns->setSectionResizeMode(ModuleTreeModel::NameColumn, QHeaderView::Interactive);
    // Visual order: what a user scans for first comes first.
    int visual = 1;
    for (int column : {ModuleTreeModel::ShapeColumn, ModuleTreeModel::CallsColumn, ModuleTreeModel::TypeColumn,
                       ModuleTreeModel::ParametersColumn})
        columns->moveSection(columns->visualIndex(column), visual++);
    const QVariantList hidden
        = QSettings().value(kHiddenColumnsKey, QVariantList {int(ModuleTreeModel::ParametersColumn)}).toList();
    for (int column = 1; column < ModuleTreeModel::ColumnCount; ++column)
        columns->setSectionHidden(column, hidden.contains(column));
    const auto refitSoon = [this] { QTimer::singleShot(0, this, &ModuleTreeView::fitNameColumn); };
    connect(model, &QAbstractItemModel::modelReset, this, refitSoon);
    connect(model, &QAbstractItemModel::layoutChanged, this, refitSoon);
    connect(model, &QAbstractItemModel::rowsInserted, this, refitSoon);
}

void ModuleTreeView::fitNameColumn()
{
    if (fitting_ || !model())
        return;
    fitting_ = true;
    int others = 0;
    for (int column = 1; column < ModuleTreeModel::ColumnCount; ++column)
        if (!header()->isSectionHidden(column))
            others += header()->sectionSize(column);
    const int room = viewport()->width() - others;
    header()->resizeSection(ModuleTreeModel::NameColumn,
                            std::max(sizeHintForColumn(ModuleTreeModel::NameColumn), room));
    fitting_ = false;
}

void ModuleTreeView::resizeEvent(QResizeEvent* event)
{
    QTreeView::resizeEvent(event);
    fitNameColumn();
}

void ModuleTreeView::showHeaderMenu(const QPoint& at)
{
    QMenu menu(this);
    for (int column = 1; column < ModuleTreeModel::ColumnCount; ++column) {
        QAction* action = menu.addAction(model()->headerData(column, Qt::Horizontal).toString());
        action->setCheckable(true);
        action->setChecked(!header()->isSectionHidden(column));
        connect(action, &QAction::toggled, this, [this, column](bool shown) { setColumnShown(column, shown); });
    }
    menu.exec(header()->mapToGlobal(at));
}

void ModuleTreeView::setColumnShown(int column, bool shown)
{
    header()->setSectionHidden(column, !shown);
    QVariantList hidden;
    for (int c = 1; c < ModuleTreeModel::ColumnCount; ++c)
        if (header()->isSectionHidden(c))
            hidden << c;
    QSettings().setValue(kHiddenColumnsKey, hidden);
    fitNameColumn();
}

} // namespace layerscope::ui
