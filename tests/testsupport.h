#pragma once
// Shared by the test executables: where the fixtures are, and how to compare tensors.

#include "layerscope/npy.h"
#include "layerscope/tensor.h"

#include <QJsonObject>
#include <QString>
#include <QStringList>

#include <map>
#include <string>
#include <vector>

namespace layerscope::test {

// Fixture folder names written by tests/fixtures/make_fixtures.py.
QStringList fixtureCases();
std::string fixturePath(const QString& caseName, const QString& file);
QJsonObject expectedJson(const QString& caseName);
std::vector<Tensor> fixtureInputs(const QString& caseName);
std::map<std::string, Tensor> readNpzAsMap(const std::string& path);

std::vector<double> toDoubles(const Tensor& tensor);
// Largest |a - b| over all elements; +inf when shapes differ.
double maxAbsDifference(const Tensor& a, const Tensor& b);
// The largest difference relative to `expected`'s largest magnitude (maps range from 1e-3 to 1e2).
double relativeDifference(const Tensor& got, const Tensor& expected);

// Every file under `folder` (hidden ones too), by its path relative to it, with its bytes: two outputs
// compared file for file.
std::map<QString, QByteArray> filesUnder(const QString& folder);

} // namespace layerscope::test

namespace layerscope::test {

struct ProcessOutcome {
    int exitCode = -1;
    QString out;
    QString err;
};
ProcessOutcome runProgram(const QString& program, const QStringList& arguments, int timeoutMs = 300000);

// tests/interop/check_exports.py: reads an export with numpy, SciPy or PyTorch and compares it.
ProcessOutcome checkExportWithPython(const QString& kind, const QString& path, const QString& referenceNpz);

} // namespace layerscope::test
