// The checkable module tree and its filter, on resnet18's real module tree.

#include "layerscope/model.h"
#include "modulefilterproxy.h"
#include "moduletreemodel.h"
#include "testsupport.h"

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QtTest>

using namespace layerscope;
using namespace layerscope::test;
using layerscope::ui::ModuleFilterProxy;
using layerscope::ui::ModuleTreeModel;

namespace {

Qt::CheckState stateOf(const ModuleTreeModel& model, const QString& name)
{
    return Qt::CheckState(model.indexOfModule(name).data(Qt::CheckStateRole).toInt());
}

QStringList visibleNames(const QAbstractItemModel& model, const QModelIndex& parent = {})
{
    QStringList names;
    for (int row = 0; row < model.rowCount(parent); ++row) {
        const QModelIndex index = model.index(row, 0, parent);
        names << index.data(ModuleTreeModel::QualifiedNameRole).toString();
        names << visibleNames(model, index);
    }
    return names;
}

} // namespace

class TestModuleTreeModel : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { modules_ = Model::load(fixturePath("resnet18_scripted", "model.pt")).modules(); }
    void passesTheModelTester();
    void checkingAParentChecksItsChildren();
    void checkAllOfOneType();
    void checkedNamesSurviveANewTree();
    void runInfoFillsShapesAndCalls();
    void filterHidesWhatDoesNotMatch();
    void uncheckAllKeepsTheTreeAndNotifiesWhatChanged();
    void checkThisModuleOnly();
    void foldedOnnxModulesAreGreyedAndNeverChecked();

private:
    std::vector<ModuleInfo> modules_;
};

void TestModuleTreeModel::passesTheModelTester()
{
    ModuleTreeModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setModules(modules_);
    QCOMPARE(model.rowCount(), 1);                   // the model itself
    QCOMPARE(model.rowCount(model.index(0, 0)), 10); // conv1, bn1, relu, maxpool, layer1..4, avgpool, fc
    model.setData(model.indexOfModule("layer2"), Qt::Checked, Qt::CheckStateRole);
    model.setRunInfo({{"layer2", "[1, 128, 28, 28]"}}, {{"layer2", 1}});
    model.setModules(modules_);
    ModuleFilterProxy proxy;
    QAbstractItemModelTester proxyTester(&proxy, QAbstractItemModelTester::FailureReportingMode::QtTest);
    proxy.setSourceModel(&model);
    proxy.setPattern("bn", false);
    proxy.setPattern("^layer[34]", true);
}

void TestModuleTreeModel::checkingAParentChecksItsChildren()
{
    ModuleTreeModel model;
    model.setModules(modules_);
    QSignalSpy changed(&model, &ModuleTreeModel::checkedModulesChanged);
    QVERIFY(model.setData(model.indexOfModule("layer1"), Qt::Checked, Qt::CheckStateRole));
    QCOMPARE(changed.count(), 1);
    for (const QString name : {"layer1", "layer1.0", "layer1.0.conv1", "layer1.1.bn2"})
        QCOMPARE(stateOf(model, name), Qt::Checked);
    QCOMPARE(stateOf(model, "layer2"), Qt::Unchecked);
    const QStringList checked = model.checkedModules();
    QCOMPARE(checked.first(), QString("layer1"));
    QCOMPARE(checked.size(), 1 + 2 * 6); // layer1, and two BasicBlocks of conv1 bn1 relu conv2 bn2 + the block
    QVERIFY(model.setData(model.indexOfModule("layer1.1.bn2"), Qt::Unchecked, Qt::CheckStateRole));
    QCOMPARE(stateOf(model, "layer1.1"), Qt::PartiallyChecked);
    QCOMPARE(stateOf(model, "layer1"), Qt::PartiallyChecked);
    QVERIFY(!model.checkedModules().contains("layer1.1.bn2"));
    QVERIFY(model.checkedModules().contains("layer1")); // its own output is still wanted
}

void TestModuleTreeModel::checkAllOfOneType()
{
    ModuleTreeModel model;
    model.setModules(modules_);
    model.checkAllOfType("Conv2d");
    const QStringList checked = model.checkedModules();
    QCOMPARE(checked.size(), 20); // resnet18: conv1, 16 in the blocks, 3 downsample convolutions
    for (const QString& name : checked)
        QCOMPARE(model.indexOfModule(name).data(ModuleTreeModel::TypeNameRole).toString(), QString("Conv2d"));
}

void TestModuleTreeModel::checkedNamesSurviveANewTree()
{
    ModuleTreeModel model;
    model.setModules(modules_);
    model.setCheckedModules({"layer4", "fc", "no.such.module"});
    QCOMPARE(model.checkedModules(), QStringList({"layer4", "fc"}));
    model.setModules(modules_); // a rerun or a reload of the same model
    QCOMPARE(model.checkedModules(), QStringList({"layer4", "fc"}));
}

void TestModuleTreeModel::runInfoFillsShapesAndCalls()
{
    ModuleTreeModel model;
    model.setModules(modules_);
    QVERIFY(!model.indexOfModule("fc").siblingAtColumn(ModuleTreeModel::ShapeColumn).data().isValid());
    model.setRunInfo({{"fc", "[1, 1000]"}, {"layer1.0.relu", "[1, 64, 56, 56]"}}, {{"fc", 1}, {"layer1.0.relu", 2}});
    QCOMPARE(model.indexOfModule("fc").siblingAtColumn(ModuleTreeModel::ShapeColumn).data().toString(),
             QString("[1, 1000]"));
    QCOMPARE(model.indexOfModule("layer1.0.relu").siblingAtColumn(ModuleTreeModel::CallsColumn).data().toInt(), 2);
    QVERIFY(model.indexOfModule("layer2")
                .siblingAtColumn(ModuleTreeModel::ShapeColumn)
                .data()
                .toString()
                .contains("did not run"));
}

void TestModuleTreeModel::filterHidesWhatDoesNotMatch()
{
    ModuleTreeModel model;
    model.setModules(modules_);
    ModuleFilterProxy proxy;
    proxy.setSourceModel(&model);
    proxy.setPattern("downsample", false);
    QStringList visible = visibleNames(proxy);
    QVERIFY(visible.contains("layer2.0.downsample.0"));
    QVERIFY(visible.contains("layer2")); // ancestors of a match stay
    QVERIFY(!visible.contains("fc"));
    QVERIFY(!visible.contains("layer1.0.conv1"));
    proxy.setPattern("^Linear$", true); // by type
    visible = visibleNames(proxy);
    QCOMPARE(visible, QStringList({"", "fc"}));
    proxy.setPattern("([", true); // an invalid expression hides nothing
    QVERIFY(!proxy.isValidPattern());
    QCOMPARE(visibleNames(proxy).size(), int(modules_.size()));
}

// "Uncheck all" used to reset the model: the view collapsed and lost its selection.
void TestModuleTreeModel::uncheckAllKeepsTheTreeAndNotifiesWhatChanged()
{
    ModuleTreeModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setModules(modules_);
    model.setData(model.indexOfModule("layer4"), Qt::Checked, Qt::CheckStateRole);
    QSignalSpy resets(&model, &QAbstractItemModel::modelAboutToBeReset);
    QSignalSpy changes(&model, &QAbstractItemModel::dataChanged);
    model.setCheckedModules({"layer1.0.conv1"});
    QCOMPARE(resets.count(), 0);
    QVERIFY(changes.count() > 0);
    QCOMPARE(model.checkedModules(), QStringList({"layer1.0.conv1"}));
    QCOMPARE(stateOf(model, "layer4"), Qt::Unchecked);
    QCOMPARE(stateOf(model, "layer1"), Qt::PartiallyChecked);
    QCOMPARE(stateOf(model, "layer1.0"), Qt::PartiallyChecked);
    QCOMPARE(model.index(0, 0).data(Qt::CheckStateRole), QVariant()); // the root has no box
    bool layer1Notified = false;
    for (const auto& signal : changes) {
        const QModelIndex from = signal.at(0).value<QModelIndex>();
        layer1Notified = layer1Notified || from == model.indexOfModule("layer1");
    }
    QVERIFY(layer1Notified);
    model.setCheckedModules({});
    QCOMPARE(resets.count(), 0);
    QCOMPARE(model.checkedModules(), QStringList());
    QCOMPARE(stateOf(model, "layer1"), Qt::Unchecked);
}

void TestModuleTreeModel::checkThisModuleOnly()
{
    ModuleTreeModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setModules(modules_);
    model.setModuleChecked("layer4", true, false);
    QCOMPARE(model.checkedModules(), QStringList({"layer4"}));
    QCOMPARE(stateOf(model, "layer4"), Qt::PartiallyChecked); // its children are not
    model.setModuleChecked("layer4", true, true);
    QCOMPARE(stateOf(model, "layer4"), Qt::Checked);
    QVERIFY(model.checkedModules().size() > 10);
    model.setModuleChecked("layer4.1", false, true);
    QCOMPARE(stateOf(model, "layer4"), Qt::PartiallyChecked);
    QCOMPARE(stateOf(model, "layer4.0"), Qt::Checked);
}

// An ONNX export in TrainingMode.EVAL: the convolutions that hold a folded BatchNorm are shown, greyed,
// with the reason, and checking their parent never asks for them.
void TestModuleTreeModel::foldedOnnxModulesAreGreyedAndNeverChecked()
{
    const Model onnx = Model::load(fixturePath("onnx/resnet18_eval", "model.onnx"));
    ModuleTreeModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setModules(onnx.modules());
    const QModelIndex conv = model.indexOfModule("layer1.0.conv1");
    QVERIFY(conv.isValid());
    QVERIFY2(conv.data(Qt::ToolTipRole).toString().contains("TrainingMode.PRESERVE"),
             qPrintable(conv.data(Qt::ToolTipRole).toString()));
    QVERIFY(conv.data(Qt::ForegroundRole).isValid());
    QVERIFY(!model.indexOfModule("layer1.0.relu").data(Qt::ForegroundRole).isValid());
    QVERIFY(model.setData(model.indexOfModule("layer1.0"), Qt::Checked, Qt::CheckStateRole));
    const QStringList checked = model.checkedModules();
    QVERIFY(checked.contains("layer1.0.relu") && checked.contains("layer1.0"));
    QVERIFY2(!checked.contains("layer1.0.conv1") && !checked.contains("layer1.0.conv2"), qPrintable(checked.join(",")));
}

QTEST_MAIN(TestModuleTreeModel)
#include "tst_moduletreemodel.moc"
