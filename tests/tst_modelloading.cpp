// Opening models: the forward signature, and one clear line for every kind of bad file.

#include "layerscope/error.h"
#include "layerscope/model.h"
#include "testsupport.h"

#include <QtTest>

using namespace layerscope;
using namespace layerscope::test;

class TestModelLoading : public QObject {
    Q_OBJECT

private slots:
    void reportsForwardSignature_data();
    void reportsForwardSignature();
    void badFilesGetOneClearLine_data();
    void badFilesGetOneClearLine();
};

void TestModelLoading::reportsForwardSignature_data()
{
    QTest::addColumn<QString>("caseName");
    QTest::addColumn<QStringList>("names");
    QTest::newRow("scripted seed") << "seed_cnn_scripted" << QStringList{"x"};
    QTest::newRow("traced seed") << "seed_cnn_traced" << QStringList{"x"};
    QTest::newRow("scripted nested") << "nested_scripted" << QStringList{"x", "y"};
    QTest::newRow("traced nested") << "nested_traced" << QStringList{"x", "y"};
    QTest::newRow("resnet18") << "resnet18_scripted" << QStringList{"x"};
}

void TestModelLoading::reportsForwardSignature()
{
    QFETCH(QString, caseName);
    QFETCH(QStringList, names);
    const Model model = Model::load(fixturePath(caseName, "model.pt"));
    QStringList got;
    for (const auto& argument : model.forwardArguments()) {
        got << QString::fromStdString(argument.name);
        QCOMPARE(argument.type, std::string("Tensor"));
    }
    QCOMPARE(got, names);
    QCOMPARE(model.requiredArgumentCount(), int(names.size()));
    QCOMPARE(model.parameterDType(), DType::Float32);
}

void TestModelLoading::badFilesGetOneClearLine_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("cause");
    QTest::newRow("missing") << "bad/does_not_exist.pt" << "no such file";
    QTest::newRow("folder") << "bad" << "is a folder";
    QTest::newRow("empty") << "bad/empty.pt" << "the file is empty";
    QTest::newRow("text") << "bad/not_a_model.pt" << "not a zip archive";
    QTest::newRow("truncated") << "bad/truncated.pt" << "truncated or corrupt archive";
    QTest::newRow("state_dict") << "bad/state_dict.pt" << "torch.save pickle (a state_dict";
    QTest::newRow("eager module") << "bad/eager_module.pt" << "torch.save pickle (an eager nn.Module";
    QTest::newRow("legacy pickle") << "bad/legacy_state_dict.pt" << "torch.save pickle (the legacy format)";
}

void TestModelLoading::badFilesGetOneClearLine()
{
    QFETCH(QString, file);
    QFETCH(QString, cause);
    const std::string path = QDir(LAYERSCOPE_FIXTURES_DIR).filePath(file).toStdString();
    try {
        Model::load(path);
        QFAIL("loaded a bad file");
    } catch (const Error& error) {
        const QString message = QString::fromUtf8(error.what());
        QVERIFY2(message.startsWith(QString::fromStdString(path) + ": "), qPrintable(message));
        QVERIFY2(message.contains(cause), qPrintable(message));
        QVERIFY2(!message.contains('\n'), qPrintable(message));
        if (cause.contains("torch.save"))
            QVERIFY2(message.contains("torch.jit.trace") && message.contains("torch.jit.script"), qPrintable(message));
    }
}

QTEST_APPLESS_MAIN(TestModelLoading)
#include "tst_modelloading.moc"
