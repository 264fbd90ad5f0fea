#pragma once

#include "layerscope/preprocessing.h"

#include <QString>
#include <QStringList>

#include <optional>

namespace layerscope::ui {

// What the window remembers per model file across sessions (QSettings, under a key made from the
// model's absolute path): its preprocessing, its inputs, its labels file.
class ModelSettings {
public:
    explicit ModelSettings(const QString& modelPath);

    std::optional<Preprocessing> preprocessing() const; // none remembered yet
    void setPreprocessing(const Preprocessing& preprocessing);
    QStringList inputs() const;
    void setInputs(const QStringList& sources);
    QString labelsFile() const; // the one chosen for this model, else labels.txt beside it
    void setLabelsFile(const QString& path);

    // A first guess at the preprocessing from the first convolution's input channels: colour models
    // usually want ImageNet's steps, grayscale ones [0, 1].
    static Preprocessing guessFromChannels(int channels);
    // The same, sized for a model that declares its image size ([N, C, H, W], as ONNX files do): the
    // resize and crop of the ImageNet recipe scaled to H x W (256/224), or an exact resize for gray.
    static Preprocessing guessFromModel(int channels, const std::vector<std::int64_t>& declaredShape);

private:
    QString modelPath_;
    QString key_;
};

} // namespace layerscope::ui
