// The module tree against Python's named_modules(): names, order, types, parameter counts.

#include "layerscope/model.h"
#include "testsupport.h"

#include <QJsonArray>
#include <QtTest>

using namespace layerscope;
using namespace layerscope::test;

class TestModuleTree : public QObject {
    Q_OBJECT

private slots:
    void matchesNamedModules_data();
    void matchesNamedModules();
    void parentsAndChildrenAgree();
};

void TestModuleTree::matchesNamedModules_data()
{
    QTest::addColumn<QString>("caseName");
    for (const auto& name : fixtureCases())
        QTest::newRow(qPrintable(name)) << name;
}

void TestModuleTree::matchesNamedModules()
{
    QFETCH(QString, caseName);
    const Model model = Model::load(fixturePath(caseName, "model.pt"));
    const QJsonArray expected = expectedJson(caseName)["modules"].toArray();
    QCOMPARE(model.modules().size(), std::size_t(expected.size()));
    for (int i = 0; i < expected.size(); ++i) {
        const QJsonObject e = expected[i].toObject();
        const ModuleInfo& m = model.modules()[i];
        QCOMPARE(QString::fromStdString(m.name), e["name"].toString());
        QCOMPARE(QString::fromStdString(m.typeName), e["type"].toString());
        QCOMPARE(m.ownParameters, e["own"].toInteger());
        QCOMPARE(m.totalParameters, e["total"].toInteger());
        QCOMPARE(model.findModule(m.name), i);
    }
}

void TestModuleTree::parentsAndChildrenAgree()
{
    const Model model = Model::load(fixturePath("nested_scripted", "model.pt"));
    const auto& modules = model.modules();
    QCOMPARE(modules[0].parent, -1);
    QCOMPARE(modules[0].typeName, std::string("SeedNested"));
    const int conv = model.findModule("feature_model.cnn.3.0");
    QVERIFY(conv > 0);
    QCOMPARE(modules[conv].typeName, std::string("Conv2d"));
    QCOMPARE(modules[conv].depth, 4);
    QCOMPARE(modules[modules[conv].parent].name, std::string("feature_model.cnn.3"));
    for (std::size_t i = 0; i < modules.size(); ++i) {
        for (int child : modules[i].children)
            QCOMPARE(modules[child].parent, int(i));
    }
    const int cnn = model.findModule("feature_model.cnn");
    QCOMPARE(modules[cnn].children.size(), std::size_t(4));
}

QTEST_APPLESS_MAIN(TestModuleTree)
#include "tst_moduletree.moc"
