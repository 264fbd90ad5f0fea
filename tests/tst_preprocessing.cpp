// Images in: every format, and the pipeline against the same steps in Python with OpenCV and numpy.

#include "layerscope/error.h"
#include "layerscope/preprocessing.h"
#include "testsupport.h"

#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QtTest>

using namespace layerscope;
using namespace layerscope::test;

namespace {

QJsonObject pipelines()
{
    QFile file(QDir(LAYERSCOPE_FIXTURES_DIR).filePath("pipelines.json"));
    file.open(QIODevice::ReadOnly);
    return QJsonDocument::fromJson(file.readAll()).object();
}

std::string imagePath(const QString& name)
{
    return QDir(LAYERSCOPE_FIXTURES_DIR).filePath("images/" + name).toStdString();
}

double meanAbsDifference(const Tensor& a, const Tensor& b)
{
    const auto x = toDoubles(a), y = toDoubles(b);
    double sum = 0;
    for (std::size_t i = 0; i < x.size(); ++i)
        sum += std::abs(x[i] - y[i]);
    return sum / double(x.size());
}

} // namespace

class TestPreprocessing : public QObject {
    Q_OBJECT

private slots:
    void matchesOpenCvAndNumpy_data();
    void matchesOpenCvAndNumpy();
    void jpegIsTurnedUprightAsTheCameraMeant();
    void sixteenBitAndAlphaAreRead();
    void presetsAreWhatTheyClaim();
    void descriptionSurvivesJson();
    void badImagesNameFileAndCause_data();
    void badImagesNameFileAndCause();
    void listsFoldersInStableOrder();
};

void TestPreprocessing::matchesOpenCvAndNumpy_data()
{
    QTest::addColumn<QString>("image");
    QTest::addColumn<QString>("pipeline");
    const QStringList images = QDir(QString(LAYERSCOPE_FIXTURES_DIR) + "/images").entryList(QDir::Files);
    QVERIFY(images.size() >= 9);
    for (const auto& image : images) {
        for (const auto& pipeline : pipelines().keys())
            QTest::newRow(qPrintable(image + " " + pipeline)) << image << pipeline;
    }
}

void TestPreprocessing::matchesOpenCvAndNumpy()
{
    QFETCH(QString, image);
    QFETCH(QString, pipeline);
    const auto description = QJsonDocument(pipelines()[pipeline].toObject()).toJson().toStdString();
    const Tensor got = loadImage(imagePath(image), Preprocessing::fromJson(description));
    const Tensor expected = readNpy(
        QDir(LAYERSCOPE_FIXTURES_DIR).filePath("images_expected/" + image + "." + pipeline + ".npy").toStdString());
    QCOMPARE(shapeToString(got.shape), shapeToString(expected.shape));
    const double difference = maxAbsDifference(got, expected);
    QVERIFY2(difference <= 1e-5, qPrintable(QString("max abs difference %1").arg(difference)));
}

void TestPreprocessing::jpegIsTurnedUprightAsTheCameraMeant()
{
    Preprocessing asIs;
    const Tensor upright = loadImage(imagePath("rgb8.png"), asIs);
    const Tensor rotated = loadImage(imagePath("rotated.jpg"), asIs); // stored sideways, EXIF orientation 6
    QCOMPARE(shapeToString(upright.shape), std::string("[3, 300, 451]"));
    QCOMPARE(shapeToString(rotated.shape), std::string("[3, 300, 451]"));
    QVERIFY(meanAbsDifference(upright, rotated) < 0.02); // JPEG noise only; a wrong turn differs by ~0.2
}

void TestPreprocessing::sixteenBitAndAlphaAreRead()
{
    Preprocessing gray = Preprocessing::gray();
    const Tensor eight = loadImage(imagePath("gray8.png"), gray);
    const Tensor sixteen = loadImage(imagePath("gray16.png"), gray); // camera * 257: the same in [0,1]
    QVERIFY(maxAbsDifference(eight, sixteen) < 1e-6);
    // camera * 250 in 16 bits: a range that 8 bits cannot hold, so its values are 250 * 255 / 65535 of the 8-bit ones.
    const Tensor tiff = loadImage(imagePath("gray16.tif"), gray);
    const auto a = toDoubles(eight), b = toDoubles(tiff);
    double worst = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        worst = std::max(worst, std::abs(a[i] * 250.0 * 255.0 / 65535.0 - b[i]));
    QVERIFY2(worst < 1e-6, qPrintable(QString::number(worst)));
    Preprocessing rgb;
    const Tensor withAlpha = loadImage(imagePath("rgba.png"), rgb);
    QCOMPARE(withAlpha.shape[0], std::int64_t(3));
}

void TestPreprocessing::presetsAreWhatTheyClaim()
{
    const Preprocessing imagenet
        = Preprocessing::fromJson(QJsonDocument(pipelines()["imagenet"].toObject()).toJson().toStdString());
    QCOMPARE(Preprocessing::imagenet().toJson(), imagenet.toJson());
    const Tensor tensor = loadImage(imagePath("photo.jpg"), Preprocessing::imagenet());
    QCOMPARE(shapeToString(tensor.shape), std::string("[3, 224, 224]"));
    const Tensor gray = loadImage(imagePath("photo.jpg"), Preprocessing::gray(101));
    QCOMPARE(shapeToString(gray.shape), std::string("[1, 101, 101]"));
    const auto values = toDoubles(gray);
    QVERIFY(*std::min_element(values.begin(), values.end()) >= 0.0);
    QVERIFY(*std::max_element(values.begin(), values.end()) <= 1.0);
}

void TestPreprocessing::descriptionSurvivesJson()
{
    Preprocessing p;
    p.resize = ResizeMode::Exact;
    p.resizeWidth = 64;
    p.resizeHeight = 48;
    p.cropWidth = p.cropHeight = 32;
    p.color = ColorMode::BGR;
    p.scaleTo01 = false;
    p.mean = {1, 2, 3};
    p.std = {4, 5, 6};
    p.interpolation = Interpolation::Cubic;
    QCOMPARE(Preprocessing::fromJson(p.toJson()).toJson(), p.toJson());
    QCOMPARE(p.describe(),
             std::string("resize to 64x48 (cubic), center crop 32x32, BGR, raw pixel values, normalized "
                         "with mean 1,2,3 and std 4,5,6"));
    QVERIFY_THROWS_EXCEPTION(Error, Preprocessing::fromJson("{\"color\": \"purple\"}"));
}

void TestPreprocessing::badImagesNameFileAndCause_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("cause");
    QTest::newRow("truncated jpeg") << "dataset/img005_truncated.jpg"
                                    << "truncated JPEG";
    QTest::newRow("text named png") << "dataset/img007_fake.png"
                                    << "not a PNG image (its first bytes match no supported format)";
    QTest::newRow("missing") << "dataset/nothing.png"
                             << "no such file";
    QTest::newRow("not an image") << "pipelines.json"
                                  << "not an image file";
}

void TestPreprocessing::badImagesNameFileAndCause()
{
    QFETCH(QString, file);
    QFETCH(QString, cause);
    const std::string path = QDir(LAYERSCOPE_FIXTURES_DIR).filePath(file).toStdString();
    try {
        loadImage(path, Preprocessing::imagenet());
        QFAIL("no error");
    } catch (const Error& error) {
        const QString message = error.what();
        QVERIFY2(message.startsWith(QString::fromStdString(path)) && message.contains(cause), qPrintable(message));
    }
}

void TestPreprocessing::listsFoldersInStableOrder()
{
    const std::string folder = QDir(LAYERSCOPE_FIXTURES_DIR).filePath("dataset").toStdString();
    const auto top = listImages(folder, false);
    const auto all = listImages(folder, true);
    QCOMPARE(top.size(), std::size_t(20));
    QCOMPARE(all.size(), std::size_t(24));
    QVERIFY(std::is_sorted(all.begin(), all.end()));
}

QTEST_APPLESS_MAIN(TestPreprocessing)
#include "tst_preprocessing.moc"
