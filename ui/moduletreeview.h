#pragma once
// The module tree's view. Its columns fit a narrow dock: the name first, never cut, and stretched
// into any room left; then the output shape and calls, then type and parameters (hidden until asked
// for in the header's context menu, which is remembered).

#include <QTreeView>

namespace layerscope::ui {

class ModuleTreeView : public QTreeView {
    Q_OBJECT

public:
    explicit ModuleTreeView(QWidget* parent = nullptr);
    void setModel(QAbstractItemModel* model) override;
    // The name column's width: its widest visible name, or more when the other columns leave room.
    void fitNameColumn();

protected:
    void resizeEvent(QResizeEvent* event) override;

private:
    void showHeaderMenu(const QPoint& at);
    void setColumnShown(int column, bool shown);
    bool fitting_ = false;
};

} // namespace layerscope::ui
