// .npy and .npz as numpy writes and reads them, and as a crafted file may pretend to be (issue 9: every case
// below crashed, hung, misread or exhausted memory before the reader was made safe).

#include "layerscope/error.h"
#include "layerscope/npy.h"
#include "testsupport.h"

#include <QTemporaryDir>
#include <QtTest>

#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <future>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

using namespace layerscope;
using namespace layerscope::test;

class TestNpy : public QObject {
    Q_OBJECT

private slots:
    void readsNumpyLayouts_data();
    void readsNumpyLayouts();
    void readsScalarsAndIntegers();
    void writesWhatItReads();
    void halfPrecisionRoundsAsNumpyAndTorch();
    void npzKeepsCaptureNames();
    void headerIsAlignedTo64Bytes();
    void badFilesNameTheFileAndCause();
    void unwritablePathLeavesNoFile();

    void readsEveryHeaderNumpyAccepts_data();
    void readsEveryHeaderNumpyAccepts();
    void writtenHeadersParseBack();
    void rejectsCraftedFiles_data();
    void rejectsCraftedFiles();
    void refusesWhatIsNotARegularFile_data();
    void refusesWhatIsNotARegularFile();
    void readsDeflatedNpz();
    void rejectsNpzEntriesThatLieAboutTheirSize_data();
    void rejectsNpzEntriesThatLieAboutTheirSize();
};

namespace {

// A .npy file laid out as numpy writes one: magic, version, header length, the dict padded with spaces and a
// newline to a multiple of 64, the payload. Version 0 picks 1.0 when the length fits in 16 bits, else 2.0.
QByteArray npyFile(const QByteArray& dict, const QByteArray& payload = {}, int version = 0)
{
    const bool wide = version >= 2 || (version == 0 && dict.size() + 11 > 65535);
    const int prefix = wide ? 12 : 10;
    QByteArray header = dict;
    header.append(QByteArray((64 - (prefix + header.size() + 1) % 64) % 64, ' '));
    header.append('\n');
    QByteArray file("\x93NUMPY", 6);
    file.append(char(version != 0 ? version : wide ? 2 : 1));
    file.append('\0');
    for (int i = 0; i < (wide ? 4 : 2); ++i)
        file.append(char((header.size() >> (8 * i)) & 0xff));
    return file + header + payload;
}

QByteArray npyDict(const QByteArray& descr, const QByteArray& fortranOrder, const QByteArray& shape)
{
    return "{'descr': '" + descr + "', 'fortran_order': " + fortranOrder + ", 'shape': " + shape + ", }";
}

template <typename T> QByteArray bytesOf(std::initializer_list<T> values)
{
    QByteArray bytes;
    for (T value : values)
        bytes.append(reinterpret_cast<const char*>(&value), sizeof value);
    return bytes;
}

std::string writeFile(const QTemporaryDir& dir, const QString& name, const QByteArray& bytes)
{
    const std::string path = dir.filePath(name).toStdString();
    std::ofstream(path, std::ios::binary).write(bytes.constData(), bytes.size());
    return path;
}

// The message of the layerscope::Error that `read` throws; anything else is reported as a mismatch.
template <typename Read> std::string errorOf(Read read)
{
    try {
        read();
        return "(no error)";
    } catch (const Error& error) {
        return error.what();
    } catch (const std::exception& error) {
        return std::string("(not a layerscope::Error: ") + error.what() + ")";
    }
}

// One clear line that starts with the file's name and says the cause.
bool namesFileAndCause(const std::string& message, const std::string& file, const QString& cause)
{
    return message.rfind(file + ": ", 0) == 0 && message.find(cause.toStdString()) != std::string::npos
        && message.find('\n') == std::string::npos && message.size() < 400;
}

// Peak resident and peak virtual size of this process, in bytes: a reader that allocates what a header claims
// raises the second even where calloc leaves the pages untouched, and the first where an allocator zero-fills.
struct MemoryPeaks {
    long long resident = 0;
    long long address = 0;
};

MemoryPeaks memoryPeaks()
{
    MemoryPeaks peaks;
    rusage usage {};
    getrusage(RUSAGE_SELF, &usage);
    peaks.resident = static_cast<long long>(usage.ru_maxrss) * 1024;
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);) {
        if (line.rfind("VmPeak:", 0) == 0)
            peaks.address = std::stoll(line.substr(7)) * 1024;
    }
    return peaks;
}

constexpr long long kMiB = 1024 * 1024;

quint32 crc32(const QByteArray& bytes)
{
    quint32 crc = 0xffffffffu;
    for (char c : bytes) {
        crc ^= static_cast<unsigned char>(c);
        for (int bit = 0; bit < 8; ++bit)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

// Raw deflate, as a zip holds it: qCompress() gives a 4-byte length, then zlib's 2-byte header and 4-byte trailer.
QByteArray deflate(const QByteArray& bytes)
{
    const QByteArray zlib = qCompress(bytes, 9);
    return zlib.mid(6, zlib.size() - 10);
}

struct ZipEntry {
    QByteArray name;
    quint16 method = 0; // 0 stored, 8 deflated
    QByteArray stored;  // the bytes in the archive
    quint32 crc = 0;
    quint32 size = 0;       // the uncompressed size the entry declares
    quint32 compressed = 0; // the compressed size it declares
};

ZipEntry zipEntry(const QByteArray& name, const QByteArray& content, bool compress)
{
    const QByteArray stored = compress ? deflate(content) : content;
    return {name, quint16(compress ? 8 : 0), stored, crc32(content), quint32(content.size()), quint32(stored.size())};
}

// A zip archive written byte by byte, so that its entries can declare sizes they do not have.
QByteArray zipArchive(const std::vector<ZipEntry>& entries)
{
    QByteArray archive, directory;
    auto put = [](QByteArray& to, quint32 value, int bytes) {
        for (int i = 0; i < bytes; ++i)
            to.append(char((value >> (8 * i)) & 0xff));
    };
    for (const ZipEntry& entry : entries) {
        const quint32 offset = quint32(archive.size());
        put(archive, 0x04034b50, 4);
        put(archive, 20, 2);
        put(archive, 0, 2);
        put(archive, entry.method, 2);
        put(archive, 0, 4); // time and date
        put(archive, entry.crc, 4);
        put(archive, entry.compressed, 4);
        put(archive, entry.size, 4);
        put(archive, quint32(entry.name.size()), 2);
        put(archive, 0, 2);
        archive += entry.name + entry.stored;

        put(directory, 0x02014b50, 4);
        put(directory, 20, 2);
        put(directory, 20, 2);
        put(directory, 0, 2);
        put(directory, entry.method, 2);
        put(directory, 0, 4);
        put(directory, entry.crc, 4);
        put(directory, entry.compressed, 4);
        put(directory, entry.size, 4);
        put(directory, quint32(entry.name.size()), 2);
        put(directory, 0, 2); // extra
        put(directory, 0, 2); // comment
        put(directory, 0, 2); // disk
        put(directory, 0, 2); // internal attributes
        put(directory, 0, 4); // external attributes
        put(directory, offset, 4);
        directory += entry.name;
    }
    const quint32 directoryOffset = quint32(archive.size());
    archive += directory;
    put(archive, 0x06054b50, 4);
    put(archive, 0, 4); // disk numbers
    put(archive, quint32(entries.size()), 2);
    put(archive, quint32(entries.size()), 2);
    put(archive, quint32(directory.size()), 4);
    put(archive, directoryOffset, 4);
    put(archive, 0, 2);
    return archive;
}

} // namespace

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

namespace {

bool isBfloat16NaN(std::uint16_t bits) { return (bits & 0x7f80u) == 0x7f80u && (bits & 0x7fu) != 0; }

// The first element whose 16-bit patterns differ, or -1. With anyNaN, two bfloat16 NaNs are equal:
// torch's vectorised conversion makes 0xffff of every NaN, its scalar one 0x7fc0.
std::int64_t firstDifferentBits(const Tensor& got, const Tensor& expected, bool anyNaN = false)
{
    if (got.numel() != expected.numel() || elementSize(got.dtype) != 2 || elementSize(expected.dtype) != 2)
        return 0;
    for (std::int64_t i = 0; i < got.numel(); ++i) {
        const std::uint16_t a = got.values<std::uint16_t>()[i], b = expected.values<std::uint16_t>()[i];
        if (a != b && !(anyNaN && isBfloat16NaN(a) && isBfloat16NaN(b)))
            return i;
    }
    return -1;
}

} // namespace

// What a bfloat16 model's inputs, --dtype float16 and the widening of half-precision captures do, bit for
// bit against numpy's astype(float16) and torch's .bfloat16(): ties, overflow, subnormals, NaN.
void TestNpy::halfPrecisionRoundsAsNumpyAndTorch()
{
    const Tensor values = readNpy(fixturePath("npy", "rounding_float32.npy"));
    QVERIFY(values.numel() > 30000);
    const Tensor half = convertFloating(values, DType::Float16);
    QCOMPARE(half.dtype, DType::Float16);
    const Tensor numpyHalf = readNpy(fixturePath("npy", "rounding_float16.npy"));
    std::int64_t at = firstDifferentBits(half, numpyHalf);
    QVERIFY2(
        at < 0,
        qPrintable(
            QString("float16 of %1").arg(double(values.values<float>()[std::max<std::int64_t>(at, 0)]), 0, 'g', 9)));

    const Tensor bfloat = convertFloating(values, DType::BFloat16);
    at = firstDifferentBits(bfloat, readNpy(fixturePath("npy", "rounding_bfloat16_bits.npy")), true);
    QVERIFY2(
        at < 0,
        qPrintable(
            QString("bfloat16 of %1").arg(double(values.values<float>()[std::max<std::int64_t>(at, 0)]), 0, 'g', 9)));
    // Widening back is exact: every bfloat16 is a float32.
    const Tensor widened = convertFloating(bfloat, DType::Float32);
    QCOMPARE(widened.dtype, DType::Float32);
    for (std::int64_t i = 0; i < values.numel(); ++i) {
        std::uint32_t bits;
        std::memcpy(&bits, widened.values<float>() + i, sizeof bits);
        QCOMPARE(std::uint16_t(bits >> 16), bfloat.values<std::uint16_t>()[i]);
    }

    // float64 to float16 is rounded once, as numpy does, also just off a midpoint of two float16 steps.
    const Tensor doubles = readNpy(fixturePath("npy", "rounding_float64.npy"));
    QCOMPARE(doubles.dtype, DType::Float64);
    at = firstDifferentBits(convertFloating(doubles, DType::Float16),
                            readNpy(fixturePath("npy", "rounding_float64_float16.npy")));
    QVERIFY2(
        at < 0,
        qPrintable(QString("float16 of %1").arg(doubles.values<double>()[std::max<std::int64_t>(at, 0)], 0, 'g', 17)));

    const Tensor everyHalf = readNpy(fixturePath("npy", "every_float16.npy"));
    QCOMPARE(everyHalf.dtype, DType::Float16);
    const Tensor asFloat = convertFloating(everyHalf, DType::Float32);
    const Tensor numpyFloat = readNpy(fixturePath("npy", "every_float16_as_float32.npy"));
    QCOMPARE(asFloat.numel(), std::int64_t(65536));
    QCOMPARE(std::memcmp(asFloat.data.get(), numpyFloat.data.get(), asFloat.nbytes()), 0);
    QCOMPARE(firstDifferentBits(convertFloating(asFloat, DType::Float16), everyHalf), std::int64_t(-1));
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
    for (const auto& shape : std::vector<std::vector<std::int64_t>> {{}, {7}, {2, 3}, {16, 512, 7, 7}}) {
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

// numpy reads its header with ast.literal_eval: any key order, either quote, optional commas and spaces.
void TestNpy::readsEveryHeaderNumpyAccepts_data()
{
    QTest::addColumn<QByteArray>("file");
    QTest::addColumn<QString>("shape");
    QTest::addColumn<QList<double>>("values");

    const QByteArray six = bytesOf<float>({0, 1, 2, 3, 4, 5});
    const QList<double> zeroToFive {0, 1, 2, 3, 4, 5};
    QTest::newRow("as numpy writes it") << npyFile(npyDict("<f4", "False", "(2, 3)"), six) << "[2, 3]" << zeroToFive;
    QTest::newRow("double quotes") << npyFile(R"({"descr": "<f4", "fortran_order": False, "shape": (2, 3)})", six)
                                   << "[2, 3]" << zeroToFive;
    QTest::newRow("other key order, no trailing comma")
        << npyFile("{'shape': (6,), 'fortran_order': False, 'descr': '<f4'}", six) << "[6]" << zeroToFive;
    QTest::newRow("no spaces") << npyFile("{'descr':'<f4','fortran_order':False,'shape':(3,2,),}", six) << "[3, 2]"
                               << zeroToFive;
    QTest::newRow("spaces everywhere") << npyFile(
        "  { 'descr' : '<f4' , 'fortran_order' : False , 'shape' : ( 2 , 3 ) , }  ", six)
                                       << "[2, 3]" << zeroToFive;
    QTest::newRow("version 2.0") << npyFile(npyDict("<f4", "False", "(2, 3)"), six, 2) << "[2, 3]" << zeroToFive;
    QTest::newRow("version 3.0") << npyFile(npyDict("<f4", "False", "(2, 3)"), six, 3) << "[2, 3]" << zeroToFive;
    QTest::newRow("scalar") << npyFile(npyDict("<f4", "False", "()"), bytesOf<float>({2.5})) << "[]"
                            << QList<double> {2.5};
    QTest::newRow("empty") << npyFile(npyDict("<f4", "False", "(0, 3)")) << "[0, 3]" << QList<double> {};
    QTest::newRow("zero dimension beside huge ones") << npyFile(npyDict("|u1", "False", "(0, 4611686018427387904)"))
                                                     << "[0, 4611686018427387904]" << QList<double> {};
    QTest::newRow("Fortran order") << npyFile(npyDict("<f4", "True", "(2, 3)"), six) << "[2, 3]"
                                   << QList<double> {0, 2, 4, 1, 3, 5};
    QTest::newRow("Fortran order, big endian") << npyFile(
        npyDict(">i4", "True", "(2, 3)"), QByteArray::fromHex("000000000000000100000002000000030000000400000005"))
                                               << "[2, 3]" << QList<double> {0, 2, 4, 1, 3, 5};
    QTest::newRow("big-endian float64") << npyFile(npyDict(">f8", "False", "(2,)"),
                                                   QByteArray::fromHex("3ff0000000000000c000000000000000"))
                                        << "[2]" << QList<double> {1, -2};
    QTest::newRow("int64") << npyFile(npyDict("<i8", "False", "(2,)"), bytesOf<std::int64_t>({-7, 9})) << "[2]"
                           << QList<double> {-7, 9};
    QTest::newRow("uint8") << npyFile(npyDict("|u1", "False", "(3,)"), QByteArray("\x01\x02\xff", 3)) << "[3]"
                           << QList<double> {1, 2, 255};
    QTest::newRow("bool") << npyFile(npyDict("|b1", "False", "(2,)"), QByteArray("\x01\x00", 2)) << "[2]"
                          << QList<double> {1, 0};
    QTest::newRow("trailing bytes after the payload")
        << npyFile(npyDict("<f4", "False", "(6,)"), six + "junk") << "[6]" << zeroToFive;
}

void TestNpy::readsEveryHeaderNumpyAccepts()
{
    QFETCH(QByteArray, file);
    QFETCH(QString, shape);
    QFETCH(QList<double>, values);
    QTemporaryDir dir;
    const std::string path = writeFile(dir, "x.npy", file);
    for (const Tensor& tensor : {readNpy(path), parseNpy(file.constData(), std::size_t(file.size()), "x.npy")}) {
        QCOMPARE(QString::fromStdString(shapeToString(tensor.shape)), shape);
        const std::vector<double> read = toDoubles(tensor);
        QCOMPARE(QList<double>(read.begin(), read.end()), values);
    }
}

// Whatever npyHeader() writes (the in-place header of a streamed array included) parses back to its shape and dtype.
void TestNpy::writtenHeadersParseBack()
{
    const std::vector<std::vector<std::int64_t>> shapes
        = {{}, {0}, {7}, {2, 3}, {16, 512, 7, 7}, std::vector<std::int64_t>(64, 1), {999999999999999, 3}};
    for (DType dtype : {DType::Float32, DType::Float64, DType::Float16, DType::Int8, DType::Int16, DType::Int32,
                        DType::Int64, DType::UInt8, DType::Bool}) {
        for (const auto& shape : shapes) {
            for (std::size_t totalLength : {std::size_t(0), std::size_t(4096)}) {
                const std::string header = npyHeader(shape, dtype, totalLength);
                std::int64_t count = 1;
                for (auto d : shape)
                    count *= d;
                const std::string context = dtypeName(dtype) + " " + shapeToString(shape);
                if (count > 1000) {
                    // Too large to write here: the header still parses, up to the missing payload.
                    const std::string message = errorOf([&] { parseNpy(header.data(), header.size(), "big.npy"); });
                    const std::string promise = "truncated: the header promises " + shapeToString(shape) + " "
                        + dtypeName(dtype) + " (" + std::to_string(count * std::int64_t(elementSize(dtype)))
                        + " bytes) but 0 follow";
                    QVERIFY2(message == "big.npy: " + promise, (context + ": " + message).c_str());
                    continue;
                }
                const std::string file = header + std::string(std::size_t(count) * elementSize(dtype), '\0');
                Tensor tensor;
                const std::string message
                    = errorOf([&] { tensor = parseNpy(file.data(), file.size(), "written.npy"); });
                QVERIFY2(message == "(no error)", (context + ": " + message).c_str());
                QVERIFY2(tensor.shape == shape && tensor.dtype == dtype, context.c_str());
            }
        }
    }
}

void TestNpy::rejectsCraftedFiles_data()
{
    QTest::addColumn<QByteArray>("file");
    QTest::addColumn<QString>("cause");

    // 2**61 + 1 float64 are 2**64 + 8 bytes: a size_t product wraps to 8, and the copy writes far past it.
    QTest::newRow("byte count wraps, big endian")
        << npyFile(npyDict(">f8", "False", "(2305843009213693953,)"), QByteArray(8, '\0'))
        << "the header's shape (2305843009213693953,) of float64 is larger than any file (byte count overflows)";
    QTest::newRow("byte count wraps, Fortran order")
        << npyFile(npyDict("<f8", "True", "(2305843009213693953, 1)"), QByteArray(8, '\0'))
        << "the header's shape (2305843009213693953, 1) of float64 is larger than any file (byte count overflows)";
    QTest::newRow("element count overflows")
        << npyFile(npyDict("<f4", "False", "(4294967296, 4294967297)"), QByteArray(16, '\0'))
        << "the header's shape (4294967296, 4294967297) of float32 is larger than any file (element count overflows)";
    QTest::newRow("element count overflows beside a zero")
        << npyFile(npyDict("|u1", "False", "(0, 4294967296, 4294967297)"))
        << "(0, 4294967296, 4294967297) of uint8 is larger than any file (element count overflows)";
    QTest::newRow("144 bytes claim 10 GB")
        << npyFile(npyDict("<f4", "False", "(2500000000,)"), QByteArray(16, '\0'))
        << "truncated: the header promises [2500000000] float32 (10000000000 bytes) but 16 follow";
    QTest::newRow("claims 400 GB") << npyFile(npyDict("<f4", "True", "(100000000000,)"), QByteArray(16, '\0'))
                                   << "truncated: the header promises [100000000000] float32 (400000000000 bytes) "
                                      "but 16 follow";
    QTest::newRow("header longer than the file")
        << npyFile(npyDict("<f4", "False", "(2,)")).left(40) << "truncated .npy header";
    QTest::newRow("no header length") << QByteArray("\x93NUMPY\x02\x00\x10\x00", 10) << "truncated .npy header";
    QTest::newRow("format version 4") << npyFile(npyDict("<f4", "False", "(2,)"), {}, 4)
                                      << "unsupported .npy format version 4";

    // std::regex recursed once per character of these and overflowed the stack.
    QTest::newRow("100 KB descr") << npyFile(npyDict("<" + QByteArray(100000, 'f'), "False", "(2,)"))
                                  << "malformed .npy header: it is 100084 bytes long, more than the 65536 accepted";
    QTest::newRow("300 KB shape") << npyFile(npyDict("<f4", "False", "(" + QByteArray(300000, '1') + ",)"))
                                  << "malformed .npy header: it is 300084 bytes long, more than the 65536 accepted";
    // Long tokens under the length cap reach the parser itself.
    QTest::newRow("60 KB descr") << npyFile(npyDict("<" + QByteArray(60000, 'f'), "False", "(2,)"))
                                 << "unsupported dtype '<" + QString(31, 'f') + "...' (60001 characters)";
    QTest::newRow("60 KB dimension") << npyFile(npyDict("<f4", "False", "(" + QByteArray(60000, '7') + ",)"))
                                     << "malformed .npy header: dimension '" + QString(32, '7')
            + "...' (60000 characters) is too large";
    QTest::newRow("20000 dimensions") << npyFile(npyDict("<f4", "False", "(" + QByteArray("1, ").repeated(20000) + ")"))
                                      << "malformed .npy header: the shape has more than 64 dimensions";

    QTest::newRow("20-digit dimension") << npyFile(npyDict("<f4", "False", "(99999999999999999999,)"))
                                        << "malformed .npy header: dimension '99999999999999999999' is too large";
    QTest::newRow("negative dimension") << npyFile(npyDict("<f4", "False", "(-3,)"), QByteArray(12, '\0'))
                                        << "malformed .npy header: dimension '-3' is negative";
    QTest::newRow("signed dimension") << npyFile(npyDict("<f4", "False", "(+3,)"), QByteArray(12, '\0'))
                                      << "malformed .npy header: dimension '+3' has a sign";
    QTest::newRow("leading zero") << npyFile(npyDict("<f4", "False", "(03,)"), QByteArray(12, '\0'))
                                  << "malformed .npy header: dimension '03' has a leading zero";
    QTest::newRow("words between dimensions") << npyFile(npyDict("<f4", "False", "(2 apples, 3)"), QByteArray(24, '\0'))
                                              << "malformed .npy header: expected ',' or ')' in the shape, found 'a'";
    QTest::newRow("junk around a dimension") << npyFile(npyDict("<f4", "False", "(x3y,)"), QByteArray(12, '\0'))
                                             << "malformed .npy header: expected a dimension in the shape, found 'x'";
    QTest::newRow("fractional dimension") << npyFile(npyDict("<f4", "False", "(2.5,)"), QByteArray(8, '\0'))
                                          << "malformed .npy header: expected ',' or ')' in the shape, found '.'";
    QTest::newRow("shape is not a tuple") << npyFile(npyDict("<f4", "False", "(3)"), QByteArray(12, '\0'))
                                          << "malformed .npy header: the shape (3) is not a tuple";
    QTest::newRow("shape is a list") << npyFile(npyDict("<f4", "False", "[3]"), QByteArray(12, '\0'))
                                     << "malformed .npy header: 'shape' must be a tuple, found '['";
    QTest::newRow("extra key") << npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1, }",
                                          QByteArray(8, '\0'))
                               << "malformed .npy header: unexpected key 'extra'";
    QTest::newRow("missing key") << npyFile("{'descr': '<f4', 'shape': (2,), }", QByteArray(8, '\0'))
                                 << "malformed .npy header: no 'fortran_order' key";
    QTest::newRow("key given twice") << npyFile(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'shape': (1,)}", QByteArray(8, '\0'))
                                     << "malformed .npy header: key 'shape' appears twice";
    QTest::newRow("keys hidden in junk") << npyFile("junk 'descr': '<f4', 'fortran_order': False, 'shape': (2,)",
                                                    QByteArray(8, '\0'))
                                         << "malformed .npy header: expected '{', found 'j'";
    QTest::newRow("junk after the dict") << npyFile(npyDict("<f4", "False", "(2,)") + " (3,)", QByteArray(8, '\0'))
                                         << "malformed .npy header: unexpected '(' after the dict";
    QTest::newRow("unterminated string") << npyFile("{'descr': '<f4, 'fortran_order': False, 'shape': (2,)}")
                                         << "malformed .npy header";
    QTest::newRow("newline inside a string")
        << npyFile(npyDict("<f4\n", "False", "(2,)"), QByteArray(8, '\0')) << "malformed .npy header";
    QTest::newRow("fortran_order is not a bool") << npyFile(npyDict("<f4", "0", "(2,)"), QByteArray(8, '\0'))
                                                 << "malformed .npy header: 'fortran_order' must be True or False";
    QTest::newRow("structured dtype") << npyFile("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }",
                                                 QByteArray(8, '\0'))
                                      << "unsupported dtype (structured arrays";
    QTest::newRow("unknown dtype") << npyFile(npyDict("<c8", "False", "(2,)"), QByteArray(16, '\0'))
                                   << "unsupported dtype '<c8'";
    QTest::newRow("control bytes in the dtype")
        << npyFile(npyDict(QByteArray("<f\x01\x1b[2J", 7), "False", "(2,)"), QByteArray(8, '\0'))
        << "unsupported dtype '<f\\x01\\x1b[2J'";
}

void TestNpy::rejectsCraftedFiles()
{
    QFETCH(QByteArray, file);
    QFETCH(QString, cause);
    QTemporaryDir dir;
    const std::string path = writeFile(dir, "x.npy", file);
    const MemoryPeaks before = memoryPeaks();
    const std::string fromFile = errorOf([&] { readNpy(path); });
    const std::string fromBytes = errorOf([&] { parseNpy(file.constData(), std::size_t(file.size()), "x.npy"); });
    const MemoryPeaks after = memoryPeaks();
    QVERIFY2(namesFileAndCause(fromFile, path, cause), fromFile.c_str());
    QVERIFY2(namesFileAndCause(fromBytes, "x.npy", cause), fromBytes.c_str());
    // Nothing a header claims is allocated before the bytes are known to be there.
    QVERIFY2(after.resident - before.resident < 64 * kMiB,
             qPrintable(QString("peak RSS grew by %1 MiB").arg((after.resident - before.resident) / kMiB)));
    QVERIFY2(after.address - before.address < 1024 * kMiB,
             qPrintable(QString("peak address space grew by %1 MiB").arg((after.address - before.address) / kMiB)));
}

void TestNpy::refusesWhatIsNotARegularFile_data()
{
    QTest::addColumn<QString>("kind");
    QTest::addColumn<QString>("cause");
    QTest::newRow("FIFO") << "fifo"
                          << "not a regular file (a FIFO)";
    QTest::newRow("symlink to a FIFO") << "link to fifo"
                                       << "not a regular file (a FIFO)";
    QTest::newRow("symlink to /dev/zero") << "link to /dev/zero"
                                          << "not a regular file (a character device)";
    QTest::newRow("socket") << "socket"
                            << "not a regular file (a socket)";
    QTest::newRow("folder") << "folder"
                            << "is a folder";
    QTest::newRow("dangling symlink") << "dangling link"
                                      << "no such file";
}

void TestNpy::refusesWhatIsNotARegularFile()
{
    QFETCH(QString, kind);
    QFETCH(QString, cause);
    QTemporaryDir dir;
    const std::string fifo = dir.filePath("fifo").toStdString();
    QCOMPARE(::mkfifo(fifo.c_str(), 0600), 0);
    int listening = -1;
    for (const std::string& name : {std::string("x.npy"), std::string("x.npz")}) {
        const std::string path = dir.filePath(QString::fromStdString(name)).toStdString();
        if (kind == "fifo") {
            QCOMPARE(::mkfifo(path.c_str(), 0600), 0);
        } else if (kind == "link to fifo") {
            QCOMPARE(::symlink(fifo.c_str(), path.c_str()), 0);
        } else if (kind == "link to /dev/zero") {
            QCOMPARE(::symlink("/dev/zero", path.c_str()), 0);
        } else if (kind == "dangling link") {
            QCOMPARE(::symlink(dir.filePath("nowhere").toStdString().c_str(), path.c_str()), 0);
        } else if (kind == "folder") {
            QVERIFY(QDir(dir.path()).mkdir(QString::fromStdString(name)));
        } else {
            listening = ::socket(AF_UNIX, SOCK_STREAM, 0);
            sockaddr_un address {};
            address.sun_family = AF_UNIX;
            QVERIFY(path.size() < sizeof address.sun_path);
            std::strcpy(address.sun_path, path.c_str());
            QCOMPARE(::bind(listening, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
        }
    }
    for (const bool archive : {false, true}) {
        const std::string path = dir.filePath(archive ? "x.npz" : "x.npy").toStdString();
        auto reading = std::async(std::launch::async, [&] {
            return archive ? errorOf([&] { readNpz(path); }) : errorOf([&] { readNpy(path); });
        });
        if (reading.wait_for(std::chrono::seconds(20)) == std::future_status::timeout) {
            // A reader blocked in open() on a FIFO: a writer that comes and goes releases it, and the test fails.
            ::close(::open(path.c_str(), O_WRONLY | O_NONBLOCK));
            reading.wait();
            QFAIL((path + ": the reader blocked").c_str());
        }
        const std::string message = reading.get();
        QVERIFY2(namesFileAndCause(message, path, cause), message.c_str());
    }
    if (listening >= 0)
        ::close(listening);
}

// numpy.savez_compressed deflates each entry; zeros compress close to deflate's largest ratio, and still read.
void TestNpy::readsDeflatedNpz()
{
    QTemporaryDir dir;
    const QByteArray zeros = npyFile(npyDict("<f4", "False", "(1024, 1024)"), QByteArray(4 * kMiB, '\0'));
    const QByteArray values = npyFile(npyDict("<i8", "False", "(3,)"), bytesOf<std::int64_t>({4, -5, 6}));
    const std::string path
        = writeFile(dir, "compressed.npz",
                    zipArchive({zipEntry("zeros.npy", zeros, true), zipEntry("values.npy", values, true),
                                zipEntry("stored.npy", values, false)}));
    const auto read = readNpz(path);
    QCOMPARE(read.size(), std::size_t(3));
    QCOMPARE(read[0].name, std::string("zeros"));
    QCOMPARE(shapeToString(read[0].tensor.shape), std::string("[1024, 1024]"));
    QCOMPARE(read[1].name, std::string("values"));
    QCOMPARE(toDoubles(read[1].tensor), std::vector<double>({4, -5, 6}));
    QCOMPARE(toDoubles(read[2].tensor), std::vector<double>({4, -5, 6}));
}

void TestNpy::rejectsNpzEntriesThatLieAboutTheirSize_data()
{
    QTest::addColumn<QByteArray>("archive");
    QTest::addColumn<QString>("cause");

    const QByteArray small = npyFile(npyDict("<f4", "False", "(4,)"), QByteArray(16, '\0'));

    ZipEntry stored = zipEntry("a.npy", small, false);
    stored.size = 0xfffffff0u;
    QTest::newRow("stored entry declares 4 GB") << zipArchive({stored})
                                                << "entry 'a.npy' is stored (not compressed) but declares 4294967280 "
                                                   "bytes in 144";
    stored.compressed = 0xfffffff0u;
    QTest::newRow("stored entry larger than the archive")
        << zipArchive({stored}) << "entry 'a.npy' declares 4294967280 bytes, more than the whole archive";
    ZipEntry deflated = zipEntry("a.npy", small, true);
    deflated.size = 0xfffffff0u;
    QTest::newRow("deflated entry beyond deflate's ratio")
        << zipArchive({deflated}) << "entry 'a.npy' declares 4294967280 bytes, more than deflate makes of";
    ZipEntry bzip2 = zipEntry("a.npy", small, false);
    bzip2.method = 12;
    QTest::newRow("bzip2 entry") << zipArchive({bzip2})
                                 << "entry 'a.npy' is compressed with method 12; .npz files hold stored or deflated";
}

void TestNpy::rejectsNpzEntriesThatLieAboutTheirSize()
{
    QFETCH(QByteArray, archive);
    QFETCH(QString, cause);
    QTemporaryDir dir;
    const std::string path = writeFile(dir, "x.npz", archive);
    const MemoryPeaks before = memoryPeaks();
    const std::string message = errorOf([&] { readNpz(path); });
    const MemoryPeaks after = memoryPeaks();
    QVERIFY2(namesFileAndCause(message, path, cause), message.c_str());
    QVERIFY2(after.resident - before.resident < 64 * kMiB,
             qPrintable(QString("peak RSS grew by %1 MiB").arg((after.resident - before.resident) / kMiB)));
}

QTEST_APPLESS_MAIN(TestNpy)
#include "tst_npy.moc"
