#include "modelsettings.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFileInfo>
#include <QSettings>

#include <algorithm>

namespace layerscope::ui {

ModelSettings::ModelSettings(const QString& modelPath)
    : modelPath_(modelPath)
{
    const QByteArray hash
        = QCryptographicHash::hash(QFileInfo(modelPath).absoluteFilePath().toUtf8(), QCryptographicHash::Sha1);
    key_ = QStringLiteral("models/") + QString::fromLatin1(hash.toHex().left(16));
}

std::optional<Preprocessing> ModelSettings::preprocessing() const
{
    const QString json = QSettings().value(key_ + "/preprocessing").toString();
    if (json.isEmpty())
        return std::nullopt;
    try {
        return Preprocessing::fromJson(json.toStdString());
    } catch (const std::exception&) {
        return std::nullopt; // a damaged setting: guess again
    }
}

void ModelSettings::setPreprocessing(const Preprocessing& preprocessing)
{
    QSettings().setValue(key_ + "/preprocessing", QString::fromStdString(preprocessing.toJson()));
}

QStringList ModelSettings::inputs() const { return QSettings().value(key_ + "/inputs").toStringList(); }

void ModelSettings::setInputs(const QStringList& sources) { QSettings().setValue(key_ + "/inputs", sources); }

QString ModelSettings::labelsFile() const
{
    return QSettings().value(key_ + "/labels", QFileInfo(modelPath_).dir().filePath("labels.txt")).toString();
}

void ModelSettings::setLabelsFile(const QString& path) { QSettings().setValue(key_ + "/labels", path); }

Preprocessing ModelSettings::guessFromChannels(int channels)
{
    if (channels == 3)
        return Preprocessing::imagenet();
    if (channels == 1)
        return Preprocessing::gray();
    return {};
}

Preprocessing ModelSettings::guessFromModel(int channels, const std::vector<std::int64_t>& declaredShape)
{
    Preprocessing p = guessFromChannels(channels);
    if (declaredShape.size() != 4 || declaredShape[2] <= 0 || declaredShape[3] <= 0)
        return p;
    const int height = int(declaredShape[2]), width = int(declaredShape[3]);
    if (channels == 3) {
        p.resize = ResizeMode::ShorterSide;
        p.resizeWidth = std::min(height, width) * 256 / 224;
        p.cropWidth = width;
        p.cropHeight = height;
    } else if (channels == 1) {
        p = Preprocessing::gray(width, height);
    }
    return p;
}

} // namespace layerscope::ui
