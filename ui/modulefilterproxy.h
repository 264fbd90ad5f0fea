#pragma once

#include <QRegularExpression>
#include <QSortFilterProxyModel>

namespace layerscope::ui {

// Filters the module tree by a substring or a regular expression on the qualified name and the type;
// a module that matches keeps its ancestors visible.
class ModuleFilterProxy : public QSortFilterProxyModel {
    Q_OBJECT

public:
    explicit ModuleFilterProxy(QObject* parent = nullptr);
    void setPattern(const QString& pattern, bool regularExpression);
    bool isValidPattern() const { return valid_; }

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const override;

private:
    QString text_;
    QRegularExpression expression_;
    bool useExpression_ = false;
    bool valid_ = true;
};

} // namespace layerscope::ui
