// Every export format, read back by numpy, SciPy and PyTorch in Python.

#include "layerscope/error.h"
#include "layerscope/exporters.h"
#include "layerscope/ptfile.h"
#include "testsupport.h"

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <cstring>

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

// A tensor whose element i holds values[i], exactly (small integers, which every dtype holds).
Tensor tensorOfIntegers(const std::vector<int>& values, const std::vector<std::int64_t>& shape, DType dtype)
{
    Tensor tensor = Tensor::zeros(shape, dtype);
    char* out = static_cast<char*>(tensor.mutableData());
    for (std::size_t i = 0; i < values.size(); ++i) {
        const int v = values[i];
        float f = float(v);
        std::uint32_t bits;
        std::memcpy(&bits, &f, 4);
        std::uint16_t half = 0; // IEEE binary16 of a small integer: sign, exponent, 10-bit mantissa
        if (v != 0) {
            const int magnitude = std::abs(v), exponent = int(std::floor(std::log2(magnitude)));
            half = std::uint16_t((v < 0 ? 0x8000 : 0) | ((exponent + 15) << 10)
                                 | ((magnitude - (1 << exponent)) << (10 - exponent)));
        }
        const std::uint16_t brain = std::uint16_t(bits >> 16);
        const double d = v;
        const std::int64_t wide = v;
        const std::int32_t i32 = v;
        const std::int16_t i16 = std::int16_t(v);
        const std::int8_t i8 = std::int8_t(v);
        const std::uint8_t u8 = std::uint8_t(v);
        const void* from = nullptr;
        switch (dtype) {
        case DType::Float32: from = &f; break;
        case DType::Float64: from = &d; break;
        case DType::Float16: from = &half; break;
        case DType::BFloat16: from = &brain; break;
        case DType::Int8: from = &i8; break;
        case DType::Int16: from = &i16; break;
        case DType::Int32: from = &i32; break;
        case DType::Int64: from = &wide; break;
        case DType::UInt8:
        case DType::Bool: from = &u8; break;
        }
        std::memcpy(out + i * elementSize(dtype), from, elementSize(dtype));
    }
    return tensor;
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
    void ptHoldsEveryDtypeAsTorchSaveDoes();

private:
    QTemporaryDir dir_;
    QString referenceNpz_;
};

void TestExporters::initTestCase()
{
    referenceNpz_ = dir_.filePath("reference.npz");
    writeNpz(referenceNpz_.toStdString(), sampleCaptures());
}

// .pt is written without LibTorch (its storages copied from the staged files): torch.load reads every
// dtype, contiguous, with the values written (element i holds i % 100 - 50, i % 100 unsigned, i % 2
// bool), a dimension past 65535 and an array of no rows; LayerScope's own reader reads the same bytes.
void TestExporters::ptHoldsEveryDtypeAsTorchSaveDoes()
{
    // (bfloat16 has no .npy form, in which every output is staged: a capture is never kept in it.)
    const std::vector<std::pair<DType, std::vector<std::int64_t>>> kinds {
        {DType::Float32, {3, 2, 2}}, {DType::Float64, {3}},   {DType::Float16, {3, 4}}, {DType::Int8, {1, 70000}},
        {DType::Int16, {3, 5}},      {DType::Int32, {3, 1}},  {DType::Int64, {3, 2}},   {DType::UInt8, {3, 300}},
        {DType::Bool, {3, 3}},       {DType::Float32, {0, 5}}};
    std::vector<NamedTensor> captures;
    for (const auto& [dtype, shape] : kinds) {
        std::vector<int> values(std::size_t(Tensor::zeros(shape, dtype).numel()));
        for (std::size_t i = 0; i < values.size(); ++i)
            values[i] = dtype == DType::Bool ? int(i % 2) : dtype == DType::UInt8 ? int(i % 100) : int(i % 100) - 50;
        const Tensor tensor = tensorOfIntegers(values, shape, dtype);
        captures.push_back({dtypeName(dtype) + "_" + std::to_string(captures.size()), tensor});
    }
    QTemporaryDir out;
    const QString path = out.filePath("every.pt");
    writeCaptures(path.toStdString(), captures);
    const ProcessOutcome check = runProgram(
        LAYERSCOPE_PYTHON,
        {"-c",
         "import sys, torch\n"
         "got = torch.load(sys.argv[1])\n"
         "assert type(got) is dict and len(got) == 10, type(got)\n"
         "for name, t in got.items():\n"
         "    dtype = getattr(torch, name.rsplit('_', 1)[0])\n"
         "    i = torch.arange(t.numel()).reshape(t.shape)\n"
         "    expected = i % 2 if dtype == torch.bool else i % 100 if dtype == torch.uint8 else i % 100 - 50\n"
         "    assert t.dtype == dtype and t.is_contiguous() and torch.equal(t, expected.to(dtype)), name\n"
         "print(sorted(tuple(t.shape) for t in got.values()))",
         path});
    QVERIFY2(check.exitCode == 0 && check.out.contains("(0, 5)") && check.out.contains("(1, 70000)"),
             qPrintable(check.err + check.out));
    const std::vector<NamedTensor> read = readPt(path.toStdString());
    QCOMPARE(read.size(), captures.size());
    for (std::size_t i = 0; i < captures.size(); ++i) {
        QCOMPARE(read[i].name, captures[i].name);
        QCOMPARE(read[i].tensor.shape, captures[i].tensor.shape);
        QCOMPARE(read[i].tensor.dtype, captures[i].tensor.dtype);
        QVERIFY(std::memcmp(read[i].tensor.data.get(), captures[i].tensor.data.get(), captures[i].tensor.nbytes())
                == 0);
    }
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
