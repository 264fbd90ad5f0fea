// .npy and .npz as numpy writes and reads them.

#include "layerscope/error.h"
#include "layerscope/npy.h"
#include "testsupport.h"

#include <QTemporaryDir>
#include <QtTest>

#include <cstring>
#include <fstream>

using namespace layerscope;
using namespace layerscope::test;

class TestNpy : public QObject {
    Q_OBJECT

private slots:
    void readsNumpyLayouts_data();
    void readsNumpyLayouts();
    void readsScalarsAndIntegers();
    void writesWhatItReads();
    void npzKeepsCaptureNames();
    void headerIsAlignedTo64Bytes();
    void badFilesNameTheFileAndCause();
    void unwritablePathLeavesNoFile();
};

void TestNpy::readsNumpyLayouts_data()
{
    QTest::addColumn<QString>("file");
    QTest::newRow("fortran order") << "fortran_order.npy";
    QTest::newRow("big endian") << "big_endian.npy";
    QTest::newRow("float64") << "float64.npy";
}

void TestNpy::readsNumpyLayouts()
{
    QFETCH(QString, file);
    const Tensor reference = readNpy(fixturePath("npy", "c_order.npy"));
    QCOMPARE(shapeToString(reference.shape), std::string("[2, 3, 4]"));
    QCOMPARE(reference.values<float>()[5], 5.0f / 7);
    const Tensor other = readNpy(fixturePath("npy", file));
    QCOMPARE(shapeToString(other.shape), std::string("[2, 3, 4]"));
    QVERIFY(maxAbsDifference(reference, other) < 1e-7);
}

void TestNpy::readsScalarsAndIntegers()
{
    const Tensor scalar = readNpy(fixturePath("npy", "scalar.npy"));
    QVERIFY(scalar.shape.empty());
    QCOMPARE(scalar.values<float>()[0], 3.5f);
    const Tensor integers = readNpy(fixturePath("npy", "int64.npy"));
    QCOMPARE(integers.dtype, DType::Int64);
    QCOMPARE(integers.values<std::int64_t>()[0], std::int64_t(-5));
    QCOMPARE(integers.values<std::int64_t>()[9], std::int64_t(4));
}

void TestNpy::writesWhatItReads()
{
    QTemporaryDir dir;
    const Tensor original = readNpy(fixturePath("npy", "c_order.npy"));
    const std::string path = dir.filePath("copy.npy").toStdString();
    writeNpy(path, original);
    const Tensor copy = readNpy(path);
    QCOMPARE(copy.dtype, DType::Float32);
    QCOMPARE(maxAbsDifference(original, copy), 0.0);
    QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden), QStringList({"copy.npy"})); // no temporaries
}

void TestNpy::npzKeepsCaptureNames()
{
    QTemporaryDir dir;
    const Tensor values = readNpy(fixturePath("npy", "c_order.npy"));
    const Tensor integers = readNpy(fixturePath("npy", "int64.npy"));
    const std::string path = dir.filePath("captures.npz").toStdString();
    writeNpz(path, {{"feature_model.cnn.3:1", values}, {"lstm[1][0]", integers}, {"fc>in", values}});
    const auto read = readNpz(path);
    QCOMPARE(read.size(), std::size_t(3));
    QCOMPARE(read[0].name, std::string("feature_model.cnn.3:1"));
    QCOMPARE(read[1].name, std::string("lstm[1][0]"));
    QCOMPARE(read[1].tensor.dtype, DType::Int64);
    QCOMPARE(read[2].name, std::string("fc>in"));
    QCOMPARE(maxAbsDifference(read[0].tensor, values), 0.0);
    QCOMPARE(maxAbsDifference(read[1].tensor, integers), 0.0);
}

void TestNpy::headerIsAlignedTo64Bytes()
{
    for (const auto& shape : std::vector<std::vector<std::int64_t>>{{}, {7}, {2, 3}, {16, 512, 7, 7}}) {
        const std::string header = npyHeader(Tensor::zeros(shape, DType::Float32));
        QCOMPARE(header.size() % 64, std::size_t(0));
        QCOMPARE(header.back(), '\n');
    }
    QVERIFY(npyHeader(Tensor::zeros({7}, DType::Float32)).find("'shape': (7,)") != std::string::npos);
}

void TestNpy::badFilesNameTheFileAndCause()
{
    QTemporaryDir dir;
    const std::string text = dir.filePath("text.npy").toStdString();
    std::ofstream(text) << "not numpy";
    const std::string truncated = dir.filePath("truncated.npy").toStdString();
    {
        std::ifstream in(fixturePath("npy", "c_order.npy"), std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() - 10);
    }
    const std::vector<std::pair<std::string, std::string>> cases = {
        {text, "not a .npy file"},
        {truncated, "truncated"},
        {dir.filePath("missing.npy").toStdString(), "no such file"},
    };
    for (const auto& [path, cause] : cases) {
        try {
            readNpy(path);
            QFAIL(("no error for " + path).c_str());
        } catch (const Error& error) {
            const std::string message = error.what();
            QVERIFY2(message.rfind(path, 0) == 0 && message.find(cause) != std::string::npos, message.c_str());
        }
    }
}

void TestNpy::unwritablePathLeavesNoFile()
{
    QTemporaryDir dir;
    const Tensor values = readNpy(fixturePath("npy", "c_order.npy"));
    const std::string missingFolder = dir.filePath("no/such/folder/out.npz").toStdString();
    QVERIFY_THROWS_EXCEPTION(Error, writeNpz(missingFolder, {{"a", values}}));
    QVERIFY_THROWS_EXCEPTION(Error, writeNpy(dir.filePath("no/out.npy").toStdString(), values));
    QVERIFY_THROWS_EXCEPTION(Error, writeNpz(dir.path().toStdString(), {{"a", values}})); // a folder
    QVERIFY(QDir(dir.path()).entryList(QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot).isEmpty());
}

QTEST_APPLESS_MAIN(TestNpy)
#include "tst_npy.moc"
