// torch.save archives read without LibTorch: what PyTorch writes, value for value against numpy, and
// crafted archives (tests/fixtures/pt_fixtures.py), each refused with one line naming the file and cause.

#include "layerscope/error.h"
#include "layerscope/ptfile.h"
#include "testsupport.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QTemporaryDir>
#include <QtTest>

#include <cstring>

using namespace layerscope;
using namespace layerscope::test;

class TestPtFile : public QObject {
    Q_OBJECT

private slots:
    void initTestCase();
    void readsWhatTorchSaveWrites_data();
    void readsWhatTorchSaveWrites();
    void refusesCraftedArchives_data();
    void refusesCraftedArchives();
    void readsFromMemoryAsFromFile();

private:
    QJsonObject expected(const QString& part) const;
    QTemporaryDir dir_;
};

void TestPtFile::initTestCase()
{
    QVERIFY(dir_.isValid());
    const ProcessOutcome made
        = runProgram(LAYERSCOPE_PYTHON, {LAYERSCOPE_TESTS_SOURCE_DIR "/fixtures/pt_fixtures.py", dir_.path()});
    QVERIFY2(made.exitCode == 0, qPrintable(made.err));
}

QJsonObject TestPtFile::expected(const QString& part) const
{
    QFile file(dir_.filePath(part + "/expected.json"));
    return file.open(QIODevice::ReadOnly) ? QJsonDocument::fromJson(file.readAll()).object() : QJsonObject();
}

void TestPtFile::readsWhatTorchSaveWrites_data()
{
    QTest::addColumn<QString>("name");
    const QJsonObject cases = expected("good");
    QVERIFY(cases.size() == 2);
    for (const QString& name : cases.keys())
        QTest::newRow(qPrintable(name)) << name;
}

// Every dtype, and views of shared storages (transposed, sliced with an offset, channels-last): each
// tensor equals, byte for byte, what numpy has of tensor.contiguous(), under its name and in order.
void TestPtFile::readsWhatTorchSaveWrites()
{
    QFETCH(QString, name);
    const QJsonArray keys = expected("good").value(name).toArray();
    const std::vector<NamedTensor> tensors = readPt(dir_.filePath("good/" + name + ".pt").toStdString());
    QCOMPARE(int(tensors.size()), keys.size());
    for (int i = 0; i < keys.size(); ++i) {
        const QString key = keys[i].toArray()[0].toString(), dtype = keys[i].toArray()[1].toString();
        const NamedTensor& got = tensors[std::size_t(i)];
        QCOMPARE(QString::fromStdString(got.name), key);
        QCOMPARE(QString::fromStdString(dtypeName(got.tensor.dtype)), dtype);
        const Tensor reference = readNpy(dir_.filePath(QString("good/%1/%2.npy").arg(name).arg(i)).toStdString());
        QCOMPARE(got.tensor.shape, reference.shape);
        QCOMPARE(got.tensor.nbytes(), reference.nbytes()); // bfloat16's reference is its int16 bits
        QVERIFY2(std::memcmp(got.tensor.data.get(), reference.data.get(), reference.nbytes()) == 0, qPrintable(key));
    }
}

void TestPtFile::refusesCraftedArchives_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<QString>("cause");
    const QJsonObject cases = expected("bad");
    QVERIFY(cases.size() > 20);
    for (const QString& name : cases.keys())
        QTest::newRow(qPrintable(name)) << name << cases.value(name).toString();
}

// Code in the pickle (os.system, a TorchScript class), views outside their storage, lies about sizes,
// compressed entries, nesting bombs, other layouts: one line that names the file and the cause.
void TestPtFile::refusesCraftedArchives()
{
    QFETCH(QString, name);
    QFETCH(QString, cause);
    const std::string path = dir_.filePath("bad/" + name + ".pt").toStdString();
    QString message;
    try {
        readPt(path);
    } catch (const Error& error) {
        message = QString::fromUtf8(error.what());
    }
    QVERIFY2(message.startsWith(QString::fromStdString(path) + ": "), qPrintable(message));
    QVERIFY2(message.contains(cause), qPrintable(message));
    QVERIFY2(!message.contains('\n'), qPrintable(message));
}

// The fuzz target's entry point sees the same archive as the file reader.
void TestPtFile::readsFromMemoryAsFromFile()
{
    QFile file(dir_.filePath("good/views.pt"));
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QByteArray bytes = file.readAll();
    const std::vector<NamedTensor> fromMemory = parsePt(bytes.constData(), std::size_t(bytes.size()), "views.pt");
    const std::vector<NamedTensor> fromFile = readPt(file.fileName().toStdString());
    QCOMPARE(fromMemory.size(), fromFile.size());
    for (std::size_t i = 0; i < fromFile.size(); ++i) {
        QCOMPARE(fromMemory[i].name, fromFile[i].name);
        QCOMPARE(maxAbsDifference(fromMemory[i].tensor, fromFile[i].tensor), 0.0);
    }
}

QTEST_APPLESS_MAIN(TestPtFile)
#include "tst_ptfile.moc"
