#pragma once
// "Build Atlas…": which folder, which captures, how many images per channel, where to write it.

#include "layerscope/atlas.h"

#include <QDialog>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QSpinBox;

namespace layerscope::ui {

class AtlasBuildDialog : public QDialog {
    Q_OBJECT

public:
    // `captures`: prefilled (the checked modules, or the one on screen); `folder` the last one used.
    AtlasBuildDialog(const QStringList& captures, const QString& folder, const QString& modelName,
                     QWidget* parent = nullptr);

    // The pass as chosen, with the window's preprocessing. Empty captures or folder: isComplete() is false.
    AtlasJob job(const Preprocessing& preprocessing) const;
    bool isComplete() const;

    QLineEdit* folderEdit() const { return folder_; }
    QLineEdit* capturesEdit() const { return captures_; }
    QLineEdit* outputEdit() const { return output_; }
    QCheckBox* keepProgressBox() const { return keepProgress_; }
    // Says so when an interrupted build of the atlas named is kept beside it (empty otherwise).
    QLabel* interruptedNote() const { return interrupted_; }

private:
    QLineEdit* folder_;
    QLineEdit* captures_;
    QLineEdit* output_;
    QCheckBox* recursive_;
    QSpinBox* top_;
    QComboBox* score_;
    QSpinBox* batch_;
    QCheckBox* keepProgress_;
    QLabel* interrupted_;
};

} // namespace layerscope::ui
