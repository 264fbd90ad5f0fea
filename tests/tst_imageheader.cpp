// Images are checked before any decoder sees them: the format by the leading bytes, the size the header
// declares against a pixel limit, regular files only. The crafted files found by fuzzing, and real files
// of every format and header variant against the sizes PIL reports for them.

#include "layerscope/error.h"
#include "layerscope/extraction.h"
#include "layerscope/model.h"
#include "layerscope/preprocessing.h"
#include "testsupport.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include <condition_variable>
#include <fcntl.h>
#include <mutex>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

using namespace layerscope;
using namespace layerscope::test;

namespace {

QString fixtures(const QString& file) { return QDir(LAYERSCOPE_FIXTURES_DIR).filePath(file); }

QByteArray be16(int v) { return QByteArray(1, char((v >> 8) & 0xFF)) + char(v & 0xFF); }
QByteArray be32(quint32 v) { return be16(int(v >> 16)) + be16(int(v & 0xFFFF)); }
QByteArray le16(int v) { return QByteArray(1, char(v & 0xFF)) + char((v >> 8) & 0xFF); }
QByteArray le32(quint32 v) { return le16(int(v & 0xFFFF)) + le16(int(v >> 16)); }

quint32 crc32(const QByteArray& bytes)
{
    quint32 crc = 0xFFFFFFFFu;
    for (const char c : bytes) {
        crc ^= quint8(c);
        for (int k = 0; k < 8; ++k)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

QByteArray pngChunk(const QByteArray& type, const QByteArray& data)
{
    return be32(quint32(data.size())) + type + data + be32(crc32(type + data));
}

// A PNG whose IHDR declares width x height (8-bit gray), with the zlib stream of its first rows only:
// libpng and OpenCV allocate the whole image before they find the data short.
QByteArray pngDeclaring(quint32 width, quint32 height)
{
    const QByteArray ihdr = be32(width) + be32(height) + QByteArray("\x08\x00\x00\x00\x00", 5);
    const QByteArray rows(int(std::min<quint64>(quint64(width) + 1, 1 << 16)) * 4, '\0'); // filter byte + pixels
    const QByteArray zlib = qCompress(rows).mid(4); // qCompress prefixes the length
    return QByteArray("\x89PNG\r\n\x1a\n", 8) + pngChunk("IHDR", ihdr) + pngChunk("IDAT", zlib) + pngChunk("IEND", {});
}

// A baseline gray JPEG whose frame header (SOF0) declares width x height: quantisation and Huffman
// tables of one code each, a scan of a few zero bytes, end of image. libjpeg decodes it, filling the
// missing blocks, into a buffer of width x height bytes.
QByteArray jpegDeclaring(int width, int height)
{
    QByteArray jpeg("\xFF\xD8", 2);
    jpeg += QByteArray("\xFF\xDB\x00\x43\x00", 5) + QByteArray(64, '\x01');
    jpeg += QByteArray("\xFF\xC0\x00\x0B\x08", 5) + be16(height) + be16(width) + QByteArray("\x01\x01\x11\x00", 4);
    const QByteArray oneCode = QByteArray(1, '\x01') + QByteArray(15, '\0') + QByteArray(1, '\0');
    jpeg += QByteArray("\xFF\xC4\x00\x14\x00", 5) + oneCode; // DC table 0: category 0 only
    jpeg += QByteArray("\xFF\xC4\x00\x14\x10", 5) + oneCode; // AC table 0: end of block only
    jpeg += QByteArray("\xFF\xDA\x00\x08\x01\x01\x00\x00\x3F\x00", 10) + QByteArray(16, '\0');
    return jpeg + QByteArray("\xFF\xD9", 2);
}

// The file found by fuzzing: a DICOM preamble (128 bytes) and "DICM", named .tiff. imdecode handed it
// to GDCM, whose assertion aborted the process.
QByteArray dicomPreamble() { return QByteArray(128, '\0') + "DICM" + QByteArray(1, '\x02'); }

QByteArray tiffDeclaring(const QByteArray& entries, int count, bool little = true)
{
    return QByteArray(little ? "II*\0" : "MM\0*", 4) + (little ? le32(8) + le16(count) : be32(8) + be16(count))
        + entries + QByteArray(4, '\0');
}

QByteArray tiffEntry(int tag, int type, quint32 count, quint32 value)
{
    return le16(tag) + le16(type) + le32(count) + le32(value);
}

void writeFile(const QString& path, const QByteArray& bytes)
{
    QFile file(path);
    QVERIFY(file.open(QIODevice::WriteOnly));
    QCOMPARE(file.write(bytes), qint64(bytes.size()));
}

// The message of the Error that `action` throws, or "(no error)".
template <typename Action> QString errorOf(Action&& action)
{
    try {
        action();
    } catch (const Error& error) {
        return QString::fromUtf8(error.what());
    }
    return "(no error)";
}

QJsonObject headerVariants()
{
    QFile file(fixtures("header_variants.json"));
    if (!file.open(QIODevice::ReadOnly))
        return {};
    return QJsonDocument::fromJson(file.readAll()).object();
}

QString formatOfName(const QString& name)
{
    const QString suffix = QFileInfo(name).suffix().toLower();
    if (suffix == "jpg")
        return "JPEG";
    if (suffix == "tif")
        return "TIFF";
    if (suffix == "webp")
        return "WebP";
    return suffix.toUpper();
}

} // namespace

class TestImageHeader : public QObject {
    Q_OBJECT

private slots:
    void init() { setMaxImagePixels(kDefaultMaxImagePixels); }
    void cleanup() { setMaxImagePixels(kDefaultMaxImagePixels); }
    void headerSizesAreWhatPilReports_data();
    void headerSizesAreWhatPilReports();
    void hostileFilesAreRefusedBeforeDecoding_data();
    void hostileFilesAreRefusedBeforeDecoding();
    void fifoFailsAtOnce();
    void deviceBehindASymlinkIsRefused();
    void misnamedFilesAreDecodedByTheirContent();
    void pixelLimitIsConfigurable();
    void folderRunSkipsHostileFilesAndGoesOn();
};

void TestImageHeader::headerSizesAreWhatPilReports_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<int>("width");
    QTest::addColumn<int>("height");
    QTest::addColumn<int>("uprightWidth");
    QTest::addColumn<int>("uprightHeight");
    const QJsonObject variants = headerVariants();
    QVERIFY(variants.size() >= 25);
    QStringList formats;
    for (auto it = variants.begin(); it != variants.end(); ++it) {
        const QJsonArray size = it.value().toObject()["size"].toArray();
        const QJsonArray upright = it.value().toObject()["upright"].toArray();
        QTest::newRow(qPrintable(it.key()))
            << it.key() << size[0].toInt() << size[1].toInt() << upright[0].toInt() << upright[1].toInt();
        formats << formatOfName(it.key());
    }
    formats.removeDuplicates();
    formats.sort();
    QCOMPARE(formats, QStringList({"BMP", "JPEG", "PNG", "TIFF", "WebP"}));
}

void TestImageHeader::headerSizesAreWhatPilReports()
{
    QFETCH(QString, file);
    QFETCH(int, width);
    QFETCH(int, height);
    QFETCH(int, uprightWidth);
    QFETCH(int, uprightHeight);
    const std::string path = fixtures("header_variants/" + file).toStdString();
    const ImageFileInfo info = checkImageFile(path);
    QCOMPARE(QString::fromStdString(info.format), formatOfName(file));
    QCOMPARE(info.width, std::int64_t(width));
    QCOMPARE(info.height, std::int64_t(height));
    // And what the decoder then makes of it: the same size, turned as EXIF says.
    const Tensor image = loadImage(path, Preprocessing());
    QCOMPARE(image.shape, (std::vector<std::int64_t> {3, uprightHeight, uprightWidth}));
}

void TestImageHeader::hostileFilesAreRefusedBeforeDecoding_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QString>("cause");
    // Found by fuzzing: each crashed the process or decoded a gigapixel image before the check.
    QTest::newRow("DICOM named .tiff") << "scan.tiff" << dicomPreamble()
                                       << "not a TIFF image (its first bytes match no supported format)";
    QTest::newRow("JPEG declaring 32256x32255")
        << "bomb.jpg" << jpegDeclaring(32256, 32255)
        << "32256x32255 pixels (1040.4 megapixels) exceeds the limit of 179.0 megapixels (raise it with --max-pixels)";
    QTest::newRow("PNG declaring 30000x30000")
        << "big.png" << pngDeclaring(30000, 30000)
        << "30000x30000 pixels (900.0 megapixels) exceeds the limit of 179.0 megapixels (raise it with --max-pixels)";
    QTest::newRow("text named .jpg") << "photo.jpg" << QByteArray("This is a text file, not a photo.\n")
                                     << "not a JPEG image (its first bytes match no supported format)";
    // And their relatives.
    QByteArray tiffAndDicom = tiffDeclaring(tiffEntry(256, 3, 1, 8) + tiffEntry(257, 3, 1, 8), 2);
    tiffAndDicom = tiffAndDicom.leftJustified(128, '\0') + "DICM" + QByteArray(64, '\0');
    QTest::newRow("TIFF with DICOM's signature") << "both.tif" << tiffAndDicom << "DICOM's signature at byte 128";
    QTest::newRow("empty") << "empty.png" << QByteArray() << "the file is empty";
    QTest::newRow("EXR named .png") << "light.png" << QByteArray("\x76\x2F\x31\x01\x02\x00\x00\x00", 8)
                                    << "not a PNG image";
    QTest::newRow("JPEG 2000 named .jpg")
        << "j2k.jpg" << QByteArray("\xFF\x4F\xFF\x51\x00\x2F", 6) << "not a JPEG image";
    QTest::newRow("PFM named .bmp") << "depth.bmp" << QByteArray("Pf\n4 4\n-1\n") << "not a BMP image";
    QTest::newRow("Sun raster named .webp")
        << "x.webp" << QByteArray("\x59\xA6\x6A\x95", 4) + QByteArray(28, '\0') << "not a WebP image";
    QTest::newRow("PNG cut in its IHDR") << "cut.png" << pngDeclaring(10, 10).left(20) << "truncated PNG";
    QTest::newRow("PNG without IHDR first")
        << "noihdr.png" << QByteArray("\x89PNG\r\n\x1a\n", 8) + pngChunk("IDAT", QByteArray(13, 0)) << "not IHDR";
    QTest::newRow("PNG of height 0") << "flat.png" << pngDeclaring(10, 0) << "declares 10x0 pixels";
    QTest::newRow("PNG of 2^31 pixels wide") << "wide.png" << pngDeclaring(0x80000000u, 1) << "corrupt PNG header";
    QTest::newRow("PNG of 2^21 x 1") << "line.png" << pngDeclaring(1u << 21, 1) << "a side longer than 1048576";
    QTest::newRow("JPEG of height 0") << "flat.jpg" << jpegDeclaring(64, 0) << "declares 64x0 pixels";
    QTest::newRow("JPEG without frame header")
        << "noframe.jpg" << QByteArray("\xFF\xD8\xFF\xE0\x00\x04\x00\x00\xFF\xD9", 10)
        << "end of image before any frame header";
    QTest::newRow("JPEG segment past the end")
        << "long.jpg" << QByteArray("\xFF\xD8\xFF\xE1\xFF\xFF\x00\x00", 8) << "truncated JPEG";
    QTest::newRow("JPEG segment length 1")
        << "short.jpg" << QByteArray("\xFF\xD8\xFF\xE1\x00\x01\x00\x00", 8) << "a segment length of 1";
    QTest::newRow("BMP with a 20-byte header")
        << "odd.bmp" << QByteArray("BM", 2) + QByteArray(12, '\0') + le32(20) + QByteArray(20, '\0')
        << "a bitmap header of 20 bytes";
    QTest::newRow("BMP 40000 x -40000") << "tall.bmp"
                                        << QByteArray("BM", 2) + QByteArray(12, '\0') + le32(40) + le32(40000)
            + le32(quint32(-40000)) + QByteArray(32, '\0')
                                        << "40000x40000 pixels (1600.0 megapixels) exceeds";
    QTest::newRow("TIFF without a height")
        << "nolength.tif" << tiffDeclaring(tiffEntry(256, 3, 1, 8), 1) << "no image height";
    QTest::newRow("TIFF with two widths")
        << "twice.tif"
        << tiffDeclaring(tiffEntry(256, 3, 1, 8) + tiffEntry(257, 3, 1, 8) + tiffEntry(256, 4, 1, 90000), 3)
        << "two different image widths";
    QTest::newRow("TIFF width as a RATIONAL")
        << "ratio.tif" << tiffDeclaring(tiffEntry(256, 5, 1, 8) + tiffEntry(257, 3, 1, 8), 2) << "stored as type 5";
    QTest::newRow("TIFF 65535 x 65535") << "huge.tif"
                                        << tiffDeclaring(tiffEntry(256, 4, 1, 65535) + tiffEntry(257, 3, 1, 65535), 2)
                                        << "65535x65535 pixels (4294.8 megapixels) exceeds";
    // One tile's buffer is allocated whatever the image's size: this 16x16 image took a gigabyte.
    QTest::newRow("TIFF 16x16 in a 16777200x16 tile")
        << "tiled.tif"
        << tiffDeclaring(tiffEntry(256, 3, 1, 16) + tiffEntry(257, 3, 1, 16) + tiffEntry(322, 4, 1, 16777200)
                             + tiffEntry(323, 3, 1, 16),
                         4)
        << "tiles of 16777200x16 pixels";
    QTest::newRow("TIFF 16x16 in a 1048576x256 tile")
        << "tiled.tif"
        << tiffDeclaring(tiffEntry(256, 3, 1, 16) + tiffEntry(257, 3, 1, 16) + tiffEntry(322, 4, 1, 1048576)
                             + tiffEntry(323, 3, 1, 256),
                         4)
        << "a TIFF tile of 1048576x256 pixels (268.4 megapixels) exceeds the limit of 179.0 megapixels";
    QTest::newRow("TIFF directory past the end")
        << "far.tif" << QByteArray("MM\0*", 4) + be32(4000) + QByteArray(8, 0) << "truncated TIFF";
    QTest::newRow("BigTIFF") << "big.tif" << QByteArray("II+\0\x08\0\0\0", 8) + QByteArray(16, 0) << "BigTIFF";
    QTest::newRow("WebP with an unknown chunk")
        << "x.webp" << QByteArray("RIFF\x20\0\0\0WEBPABCD", 16) + QByteArray(20, 0) << "a first chunk 'ABCD'";
    QTest::newRow("WebP VP8X 16384 x 16384") << "x.webp"
                                             << QByteArray("RIFF\x20\0\0\0WEBPVP8X\x0A\0\0\0\0\0\0\0", 24)
            + QByteArray("\xFF\x3F\x00\xFF\x3F\x00", 6) + QByteArray(8, 0)
                                             << "16384x16384 pixels (268.4 megapixels) exceeds";
}

void TestImageHeader::hostileFilesAreRefusedBeforeDecoding()
{
    QFETCH(QString, name);
    QFETCH(QByteArray, bytes);
    QFETCH(QString, cause);
    QTemporaryDir dir;
    const QString path = dir.filePath(name);
    writeFile(path, bytes);
    const QString loading = errorOf([&] { loadImage(path.toStdString(), Preprocessing()); });
    QVERIFY2(loading.startsWith(path + ": ") && loading.contains(cause), qPrintable(loading));
    QVERIFY2(!loading.contains('\n'), qPrintable(loading));
    QCOMPARE(errorOf([&] { checkImageFile(path.toStdString()); }), loading);
}

void TestImageHeader::fifoFailsAtOnce()
{
    QTemporaryDir dir;
    const QString path = dir.filePath("stream.png");
    QCOMPARE(::mkfifo(QFile::encodeName(path).constData(), 0600), 0);
    // Should the open block (the bug), a writer comes after 5 s so that the test ends instead of hanging;
    // the reader then sees an empty stream, not "a named pipe", and the message check below fails.
    std::mutex mutex;
    std::condition_variable wake;
    bool done = false;
    std::thread unblocker([&] {
        std::unique_lock<std::mutex> lock(mutex);
        if (!wake.wait_for(lock, std::chrono::seconds(5), [&] { return done; })) {
            const int fd = ::open(QFile::encodeName(path).constData(), O_WRONLY | O_NONBLOCK);
            if (fd >= 0)
                ::close(fd);
        }
    });
    const QString loading = errorOf([&] { loadImage(path.toStdString(), Preprocessing()); });
    const QString checking = errorOf([&] { checkImageFile(path.toStdString()); });
    {
        std::lock_guard<std::mutex> lock(mutex);
        done = true;
    }
    wake.notify_one();
    unblocker.join();
    QCOMPARE(loading, path + ": is a named pipe (FIFO), not an image file");
    QCOMPARE(checking, loading);
}

void TestImageHeader::deviceBehindASymlinkIsRefused()
{
    QTemporaryDir dir;
    const QString path = dir.filePath("zeros.png");
    QVERIFY(QFile::link("/dev/zero", path));
    const QString expected = path + ": is a device, not an image file";
    QCOMPARE(errorOf([&] { loadImage(path.toStdString(), Preprocessing()); }), expected);
    QCOMPARE(errorOf([&] { checkImageFile(path.toStdString()); }), expected);
}

void TestImageHeader::misnamedFilesAreDecodedByTheirContent()
{
    QTemporaryDir dir;
    const struct {
        const char* original;
        const char* misnamed;
        const char* format;
    } cases[] = {{"rgb8.png", "rgb8.jpg", "PNG"},
                 {"baseline.jpg", "baseline.png", "JPEG"},
                 {"exif_rotated.jpg", "exif_rotated.tif", "JPEG"},
                 {"lossy.webp", "lossy.bmp", "WebP"},
                 {"little_endian.tif", "little_endian.webp", "TIFF"}};
    for (const auto& c : cases) {
        const QString original = fixtures(QString("header_variants/") + c.original);
        const QString misnamed = dir.filePath(c.misnamed);
        QVERIFY(QFile::copy(original, misnamed));
        QCOMPARE(checkImageFile(misnamed.toStdString()).format, std::string(c.format));
        // Decoded as its content says, flags included: the JPEG named .tif is still turned upright.
        const Tensor expected = loadImage(original.toStdString(), Preprocessing());
        const Tensor got = loadImage(misnamed.toStdString(), Preprocessing());
        QCOMPARE(got.shape, expected.shape);
        QCOMPARE(maxAbsDifference(got, expected), 0.0);
    }
}

void TestImageHeader::pixelLimitIsConfigurable()
{
    const std::string path = fixtures("header_variants/square100.png").toStdString();
    QCOMPARE(maxImagePixels(), std::int64_t(178956970));
    setMaxImagePixels(5000);
    QCOMPARE(maxImagePixels(), std::int64_t(5000));
    const QString expected = QString::fromStdString(path)
        + ": 100x100 pixels exceeds the limit of 5000 pixels (raise it with --max-pixels)";
    QCOMPARE(errorOf([&] { loadImage(path, Preprocessing()); }), expected);
    QCOMPARE(errorOf([&] { checkImageFile(path); }), expected);
    setMaxImagePixels(9999);
    QVERIFY(errorOf([&] { loadImage(path, Preprocessing()); }).contains("exceeds the limit of 9999 pixels"));
    setMaxImagePixels(10000); // the limit itself is allowed
    QCOMPARE(loadImage(path, Preprocessing()).shape, (std::vector<std::int64_t> {3, 100, 100}));
    setMaxImagePixels(kDefaultMaxImagePixels);
    QCOMPARE(loadImage(path, Preprocessing()).shape, (std::vector<std::int64_t> {3, 100, 100}));
    QCOMPARE(checkImageFile(path).width, std::int64_t(100));
}

void TestImageHeader::folderRunSkipsHostileFilesAndGoesOn()
{
    QTemporaryDir dir;
    const QString folder = dir.filePath("images");
    QVERIFY(QDir().mkpath(folder));
    const QStringList good = {"img001.jpg", "img002.jpg", "img003.png", "img004.jpg"};
    for (const QString& name : good)
        QVERIFY(QFile::copy(fixtures("dataset/" + name), folder + "/" + name));
    const QMap<QString, QString> hostile = {{"img000_scan.tiff", "not a TIFF image"},
                                            {"img002_bomb.jpg", "exceeds the limit"},
                                            {"img003_big.png", "exceeds the limit"},
                                            {"img004_text.jpg", "not a JPEG image"}};
    writeFile(folder + "/img000_scan.tiff", dicomPreamble());
    writeFile(folder + "/img002_bomb.jpg", jpegDeclaring(32256, 32255));
    writeFile(folder + "/img003_big.png", pngDeclaring(30000, 30000));
    writeFile(folder + "/img004_text.jpg", "This is a text file, not a photo.\n");

    ExtractionJob job;
    job.inputs = {folder.toStdString()};
    job.preprocessing = Preprocessing::gray(101);
    job.batchSize = 3;
    job.request.outputsOf = {"linear.0"};
    job.outputPath = dir.filePath("features.npz").toStdString();
    const ExtractionResult result = runExtraction(fixturePath("seed_cnn_scripted", "model.pt"), job);
    QCOMPARE(result.rows, std::int64_t(good.size()));
    QCOMPARE(result.skippedInputs.size(), std::size_t(hostile.size()));
    for (const SkippedInput& skipped : result.skippedInputs) {
        const QString file = QFileInfo(QString::fromStdString(skipped.files.at(0))).fileName();
        const QString reason = QString::fromStdString(skipped.reason);
        QVERIFY2(hostile.contains(file), qPrintable(file));
        QVERIFY2(reason.startsWith(QString::fromStdString(skipped.files[0]) + ": ") && reason.contains(hostile[file]),
                 qPrintable(reason));
    }
    const auto features = readNpzAsMap(job.outputPath);
    QCOMPARE(features.at("linear.0").shape.at(0), std::int64_t(good.size()));
}

QTEST_APPLESS_MAIN(TestImageHeader)
#include "tst_imageheader.moc"
