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

private:
    QString modelPath_;
    QString key_;
};

} // namespace layerscope::ui
