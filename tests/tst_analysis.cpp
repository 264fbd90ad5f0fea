// What describes and draws an activation: statistics, histograms, channel orders, channel grids and
// colormaps, on a real capture (resnet18's layer1.0.conv1 from Python's forward hooks) and on edge
// values, checked by tests/interop/check_analysis.py against numpy and matplotlib.

#include "layerscope/npy.h"
#include "layerscope/render.h"
#include "layerscope/statistics.h"
#include "testsupport.h"

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <cstring>

using namespace layerscope;
using namespace layerscope::test;

namespace {

template <typename T> Tensor vectorTensor(const std::vector<T>& values, std::vector<std::int64_t> shape, DType dtype)
{
    Tensor tensor = Tensor::zeros(std::move(shape), dtype);
    std::memcpy(tensor.mutableData(), values.data(), values.size() * sizeof(T));
    return tensor;
}

Tensor edgeValues()
{
    // [1, 6, 4, 5]: NaN and Inf in channel 0, all zeros in 1, constant in 2, negative in 3, mixed in 4 and 5.
    std::vector<float> v(6 * 20);
    for (int i = 0; i < int(v.size()); ++i)
        v[std::size_t(i)] = std::sin(0.7f * float(i)) * float(i % 7);
    v[3] = std::nanf("");
    v[7] = INFINITY;
    v[11] = -INFINITY;
    for (int i = 20; i < 40; ++i)
        v[std::size_t(i)] = 0.0f;
    for (int i = 40; i < 60; ++i)
        v[std::size_t(i)] = 2.5f;
    for (int i = 60; i < 80; ++i)
        v[std::size_t(i)] = -std::abs(v[std::size_t(i)]) - 1.0f;
    return vectorTensor(v, {1, 6, 4, 5}, DType::Float32);
}

Tensor statisticsRow(const TensorStatistics& s)
{
    return vectorTensor(std::vector<double> {double(s.count), double(s.finite), double(s.nanCount), double(s.infCount),
                                             s.min, s.max, s.mean, s.std, s.zeroFraction},
                        {9}, DType::Float64);
}

Tensor gridArray(const RgbImage& image)
{
    return vectorTensor(image.pixels, {image.height, image.width, 3}, DType::UInt8);
}

} // namespace

class TestAnalysis : public QObject {
    Q_OBJECT

private slots:
    void agreesWithNumpyAndMatplotlib()
    {
        QTemporaryDir dir;
        const auto reference = readNpzAsMap(fixturePath("resnet18_scripted", "reference.npz"));
        std::vector<NamedTensor> results;
        for (const auto& [name, x] :
             {std::pair<std::string, Tensor> {"real", reference.at("layer1.0.conv1")}, {"edge", edgeValues()}}) {
            results.push_back({name, x});
            results.push_back({name + "_statistics", statisticsRow(computeStatistics(x))});
            const Histogram histogram = computeHistogram(x, 16);
            results.push_back({name + "_histogram", vectorTensor(histogram.counts, {16}, DType::Int64)});
            results.push_back({name + "_histogram_range",
                               vectorTensor(std::vector<double> {histogram.low, histogram.high}, {2}, DType::Float64)});
            const std::pair<const char*, ChannelOrder> orders[] = {{"mean", ChannelOrder::Mean},
                                                                   {"max", ChannelOrder::Max},
                                                                   {"std", ChannelOrder::Std},
                                                                   {"zeros", ChannelOrder::ZeroFraction}};
            for (std::int64_t sample = 0; sample < x.shape[0]; ++sample)
                for (const auto& [order, which] : orders) {
                    const std::vector<int> sorted = sortChannels(x, sample, which);
                    results.push_back({name + "_order_" + order + "_" + std::to_string(sample),
                                       vectorTensor(std::vector<std::int64_t>(sorted.begin(), sorted.end()),
                                                    {std::int64_t(sorted.size())}, DType::Int64)});
                }
            GridOptions options;
            results.push_back({name + "_grid_channel", gridArray(renderChannelGrid(x, 0, options))});
            options.normalization = Normalization::LayerWide;
            results.push_back({name + "_grid_layer", gridArray(renderChannelGrid(x, 0, options))});
        }
        for (const std::string& map : colormapNames()) {
            std::vector<std::uint8_t> table;
            for (int i = 0; i < 256; ++i) {
                const auto rgb = colormapColor(colormapFromName(map), i / 255.0);
                table.insert(table.end(), rgb.begin(), rgb.end());
            }
            results.push_back({"table_" + map, vectorTensor(table, {256, 3}, DType::UInt8)});
        }
        const std::string file = dir.filePath("analysis.npz").toStdString();
        writeNpz(file, results);
        const ProcessOutcome check = runProgram(
            LAYERSCOPE_PYTHON,
            {QString(LAYERSCOPE_TESTS_SOURCE_DIR) + "/interop/check_analysis.py", QString::fromStdString(file)});
        QVERIFY2(check.exitCode == 0, qPrintable(check.out + check.err));
    }

    void knownValues()
    {
        // 1, 2, 3, 4, NaN, Inf, 0: over the five finite values mean 2, population std sqrt(2).
        const Tensor x = vectorTensor(std::vector<float> {1, 2, 3, 4, std::nanf(""), INFINITY, 0}, {7}, DType::Float32);
        const TensorStatistics s = computeStatistics(x);
        QCOMPARE(s.count, std::int64_t(7));
        QCOMPARE(s.finite, std::int64_t(5));
        QCOMPARE(s.nanCount, std::int64_t(1));
        QCOMPARE(s.infCount, std::int64_t(1));
        QCOMPARE(s.mean, 2.0);
        QCOMPARE(s.std, std::sqrt(2.0));
        QCOMPARE(s.min, 0.0);
        QCOMPARE(s.max, 4.0);
        QCOMPARE(s.zeroFraction, 1.0 / 7.0);
        // Four bins over 0..4: [0,1) [1,2) [2,3) [3,4], the maximum in the last bin.
        const Histogram h = computeHistogram(x, 4);
        QCOMPARE(h.counts, (std::vector<std::int64_t> {1, 1, 1, 2}));
        // One value: one bin around it.
        const Histogram one = computeHistogram(vectorTensor(std::vector<float> {3, 3}, {2}, DType::Float32), 10);
        QCOMPARE(one.counts, (std::vector<std::int64_t> {2}));
        QCOMPARE(one.low, 2.5);
        // The published ends of viridis.
        QCOMPARE(colormapColor(Colormap::Viridis, 0.0), (std::array<std::uint8_t, 3> {0x44, 0x01, 0x54}));
        QCOMPARE(colormapColor(Colormap::Viridis, 1.0), (std::array<std::uint8_t, 3> {0xfd, 0xe7, 0x25}));
        // Tiles: 6 channels of 4x5 in 3 columns and 2 rows, a pixel of gap; tileAt finds them.
        const GridLayout layout = gridLayout(6, 5, 4, GridOptions());
        QCOMPARE(layout.columns, 3);
        QCOMPARE(layout.rows, 2);
        QCOMPARE(layout.tileAt(0, 0), 0);
        QCOMPARE(layout.tileAt(5, 0), -1); // the gap
        QCOMPARE(layout.tileAt(6, 5), 4);
    }
};

QTEST_APPLESS_MAIN(TestAnalysis)
#include "tst_analysis.moc"
