// Every export format, read back by numpy, SciPy and PyTorch in Python.

#include "layerscope/error.h"
#include "layerscope/exporters.h"
#include "testsupport.h"

#include <QTemporaryDir>
#include <QtTest>

using namespace layerscope;
using namespace layerscope::test;

namespace {

// Real captures of the seed CNN, plus the dtypes and ranks a model can return.
std::vector<NamedTensor> sampleCaptures()
{
    auto reference = readNpzAsMap(fixturePath("seed_cnn_scripted", "reference.npz"));
    std::vector<NamedTensor> captures;
    for (const char* key : {"cnn.3", "cnn.3.0", "linear.0", "linear.2", "output"})
        captures.push_back({key, reference.at(key)});
    Tensor counts = Tensor::zeros({2, 5}, DType::Int64);
    Tensor mask = Tensor::zeros({2, 3}, DType::UInt8);
    Tensor scores = Tensor::zeros({2}, DType::Float64);
    for (int i = 0; i < 10; ++i)
        static_cast<std::int64_t*>(counts.mutableData())[i] = i * 1000003 - 7;
    static_cast<std::uint8_t*>(mask.mutableData())[4] = 255;
    static_cast<double*>(scores.mutableData())[1] = -0.1;
    captures.push_back({"counts[0]", counts});
    captures.push_back({"mask:1", mask});
    captures.push_back({"scores>in", scores});
    return captures;
}

QStringList entries(const QString& folder)
{
    return QDir(folder).entryList(QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot);
}

} // namespace

class TestExporters : public QObject {
    Q_OBJECT

private slots:
    void initTestCase();
    void formatFollowsTheExtension();
    void pythonReadsBackEveryFormat_data();
    void pythonReadsBackEveryFormat();
    void rowsAppendedInBatchesStackAlongTheFirstAxis();
    void pngDrawsOneTilePerChannel();
    void unfinishedWriterLeavesNothing();
    void changingShapeBetweenBatchesIsAnError();

private:
    QTemporaryDir dir_;
    QString referenceNpz_;
};

void TestExporters::initTestCase()
{
    referenceNpz_ = dir_.filePath("reference.npz");
    writeNpz(referenceNpz_.toStdString(), sampleCaptures());
}

void TestExporters::formatFollowsTheExtension()
{
    QCOMPARE(exportFormatFor("a/b.npz"), ExportFormat::Npz);
    QCOMPARE(exportFormatFor("b.MAT"), ExportFormat::Mat);
    QCOMPARE(exportFormatFor("b.pt"), ExportFormat::Pt);
    QCOMPARE(exportFormatFor("b.csv"), ExportFormat::Csv);
    QCOMPARE(exportFormatFor("b.png"), ExportFormat::Png);
    QCOMPARE(exportFormatFor("b.h5"), ExportFormat::Hdf5);
    QCOMPARE(exportFormatFor("b.hdf5"), ExportFormat::Hdf5);
    QCOMPARE(exportFormatFor("features"), ExportFormat::NpyFolder);
    QCOMPARE(exportFormatFor("features/"), ExportFormat::NpyFolder);
    QVERIFY_THROWS_EXCEPTION(Error, exportFormatFor("b.xlsx"));
    QCOMPARE(manifestPathFor("out/run.npz"), std::string("out/run.npz.manifest.json"));
    QCOMPARE(manifestPathFor("out/run.mat"), std::string("out/run.mat.manifest.json")); // not one for both
    QCOMPARE(manifestPathFor("out/features"), std::string("out/features/manifest.json"));
}

void TestExporters::pythonReadsBackEveryFormat_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("kind");
    QTest::newRow("npz") << "all.npz"
                         << "npz";
    QTest::newRow("folder of npy") << "all"
                                   << "folder";
    QTest::newRow("MATLAB") << "all.mat"
                            << "mat";
    QTest::newRow("PyTorch") << "all.pt"
                             << "pt";
    QTest::newRow("CSV") << "all.csv"
                         << "csv";
    QTest::newRow("HDF5") << "all.h5"
                          << "h5";
}

void TestExporters::pythonReadsBackEveryFormat()
{
    QFETCH(QString, file);
    QFETCH(QString, kind);
    QTemporaryDir out;
    const QString path = out.filePath(file);
    writeCaptures(path.toStdString(), sampleCaptures(), {}, "{\"note\": \"test\"}");
    const ProcessOutcome check = checkExportWithPython(kind, path, referenceNpz_);
    QVERIFY2(check.exitCode == 0, qPrintable(check.err));
    QVERIFY(QFile::exists(QString::fromStdString(manifestPathFor(path.toStdString()))));
    for (const auto& name : entries(out.path()))
        QVERIFY2(!name.contains("partial"), qPrintable(name)); // no staging left behind
}

void TestExporters::rowsAppendedInBatchesStackAlongTheFirstAxis()
{
    QTemporaryDir out;
    const auto captures = sampleCaptures();
    const QString path = out.filePath("batches.npz");
    {
        CaptureWriter writer(path.toStdString());
        for (int batch = 0; batch < 3; ++batch)
            writer.append(captures);
        QCOMPARE(writer.rows(), std::int64_t(6));
        writer.commit();
    }
    const auto read = readNpzAsMap(path.toStdString());
    for (const auto& [name, tensor] : captures) {
        const Tensor& stacked = read.at(name);
        QCOMPARE(stacked.shape[0], tensor.shape[0] * 3);
        const auto all = toDoubles(stacked), one = toDoubles(tensor);
        for (std::size_t i = 0; i < all.size(); ++i)
            QCOMPARE(all[i], one[i % one.size()]);
    }
}

void TestExporters::pngDrawsOneTilePerChannel()
{
    QTemporaryDir out;
    const auto reference = readNpzAsMap(fixturePath("seed_cnn_scripted", "reference.npz"));
    ExportOptions options;
    options.grid.gap = 1;
    const auto notes
        = writeCaptures(out.filePath("maps.png").toStdString(),
                        {{"cnn.0.0", reference.at("cnn.0.0")}, {"linear.0", reference.at("linear.0")}}, options);
    // cnn.0.0 is [2, 16, 97, 97]: 2 samples, a 4x4 grid of 97-pixel tiles with 1-pixel gaps.
    QStringList pngs = QDir(out.path()).entryList({"*.png"});
    QCOMPARE(pngs, QStringList({"maps.cnn.0.0.0.png", "maps.cnn.0.0.1.png"}));
    QFile png(out.filePath(pngs[0]));
    QVERIFY(png.open(QIODevice::ReadOnly));
    const QByteArray header = png.read(24); // signature, then the IHDR chunk: width and height, big-endian
    QVERIFY(header.startsWith("\x89PNG"));
    auto bigEndian = [&](int at) {
        return (quint8(header[at]) << 24) | (quint8(header[at + 1]) << 16) | (quint8(header[at + 2]) << 8)
            | quint8(header[at + 3]);
    };
    QCOMPARE(bigEndian(16), 4 * 97 + 3);
    QCOMPARE(bigEndian(20), 4 * 97 + 3);
    QCOMPARE(notes.size(), std::size_t(1)); // linear.0 is 2-D: no grid
    QVERIFY(QString::fromStdString(notes[0]).contains("linear.0"));
}

void TestExporters::unfinishedWriterLeavesNothing()
{
    QTemporaryDir out;
    {
        CaptureWriter writer(out.filePath("never.npz").toStdString());
        writer.append(sampleCaptures());
        // destroyed without commit(): an error or a cancel
    }
    QVERIFY(entries(out.path()).isEmpty());
    QVERIFY_THROWS_EXCEPTION(Error, CaptureWriter(out.filePath("missing/x.npz").toStdString()));
    QVERIFY(entries(out.path()).isEmpty());
}

void TestExporters::changingShapeBetweenBatchesIsAnError()
{
    QTemporaryDir out;
    CaptureWriter writer(out.filePath("x.npz").toStdString());
    writer.append({{"a", Tensor::zeros({2, 3, 4, 4}, DType::Float32)}});
    try {
        writer.append({{"a", Tensor::zeros({2, 3, 5, 5}, DType::Float32)}});
        QFAIL("no error");
    } catch (const Error& error) {
        QVERIFY2(QString(error.what()).contains("[-1, 3, 4, 4] to float32 [2, 3, 5, 5]"), error.what());
    }
}

QTEST_APPLESS_MAIN(TestExporters)
#include "tst_exporters.moc"
