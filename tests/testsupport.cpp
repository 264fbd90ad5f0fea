#include "testsupport.h"

#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QJsonDocument>

#include <algorithm>
#include <cmath>
#include <limits>

namespace layerscope::test {

QStringList fixtureCases()
{
    return {"seed_cnn_scripted", "seed_cnn_traced", "nested_scripted", "nested_traced",
            "resnet18_scripted", "resnet18_traced", "tuple_scripted",  "inplace_scripted",
            "inplace_traced",    "forked_scripted", "forked_traced"};
}

std::string fixturePath(const QString& caseName, const QString& file)
{
    return QDir(QStringLiteral(LAYERSCOPE_FIXTURES_DIR)).filePath(caseName + "/" + file).toStdString();
}

QJsonObject expectedJson(const QString& caseName)
{
    QFile file(QString::fromStdString(fixturePath(caseName, "expected.json")));
    if (!file.open(QIODevice::ReadOnly))
        return {};
    return QJsonDocument::fromJson(file.readAll()).object();
}

std::vector<Tensor> fixtureInputs(const QString& caseName)
{
    std::vector<Tensor> inputs;
    for (int i = 0;; ++i) {
        const std::string path = fixturePath(caseName, QString("input%1.npy").arg(i));
        if (!QFile::exists(QString::fromStdString(path)))
            return inputs;
        inputs.push_back(readNpy(path));
    }
}

std::map<std::string, Tensor> readNpzAsMap(const std::string& path)
{
    std::map<std::string, Tensor> map;
    for (auto& [name, tensor] : readNpz(path))
        map.emplace(name, tensor);
    return map;
}

std::vector<double> toDoubles(const Tensor& tensor)
{
    std::vector<double> values(static_cast<std::size_t>(tensor.numel()));
    for (std::size_t i = 0; i < values.size(); ++i) {
        switch (tensor.dtype) {
        case DType::Float32: values[i] = tensor.values<float>()[i]; break;
        case DType::Float64: values[i] = tensor.values<double>()[i]; break;
        case DType::Int64: values[i] = static_cast<double>(tensor.values<std::int64_t>()[i]); break;
        case DType::Int32: values[i] = tensor.values<std::int32_t>()[i]; break;
        case DType::UInt8: values[i] = tensor.values<std::uint8_t>()[i]; break;
        case DType::Bool: values[i] = tensor.values<bool>()[i]; break;
        default: values[i] = std::numeric_limits<double>::quiet_NaN();
        }
    }
    return values;
}

double relativeDifference(const Tensor& got, const Tensor& expected)
{
    double scale = 1e-12;
    for (double v : toDoubles(expected))
        scale = std::max(scale, std::abs(v));
    return maxAbsDifference(got, expected) / scale;
}

double maxAbsDifference(const Tensor& a, const Tensor& b)
{
    if (a.shape != b.shape)
        return std::numeric_limits<double>::infinity();
    const auto x = toDoubles(a), y = toDoubles(b);
    double worst = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        const double d = std::abs(x[i] - y[i]);
        if (std::isnan(d))
            return std::numeric_limits<double>::infinity();
        worst = std::max(worst, d);
    }
    return worst;
}

std::map<QString, QByteArray> filesUnder(const QString& folder)
{
    std::map<QString, QByteArray> files;
    QDirIterator it(folder, QDir::Files | QDir::Hidden, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        QFile file(it.next());
        if (file.open(QIODevice::ReadOnly))
            files[QDir(folder).relativeFilePath(file.fileName())] = file.readAll();
    }
    return files;
}

} // namespace layerscope::test

#include <QProcess>

namespace layerscope::test {

ProcessOutcome runProgram(const QString& program, const QStringList& arguments, int timeoutMs)
{
    QProcess process;
    process.start(program, arguments);
    process.waitForFinished(timeoutMs);
    return {process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1,
            QString::fromUtf8(process.readAllStandardOutput()), QString::fromUtf8(process.readAllStandardError())};
}

ProcessOutcome checkExportWithPython(const QString& kind, const QString& path, const QString& referenceNpz)
{
    return runProgram(LAYERSCOPE_PYTHON,
                      {QString(LAYERSCOPE_TESTS_SOURCE_DIR) + "/interop/check_exports.py", kind, path, referenceNpz});
}

} // namespace layerscope::test
