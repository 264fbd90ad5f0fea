#pragma once
// The atlas dock: an atlas's channels (AtlasView) and its projector (AtlasProjector) in tabs, and
// building an atlas from the window: the pass runs on a worker thread with progress and Cancel.

#include "layerscope/atlas.h"

#include <QDockWidget>

#include <atomic>
#include <memory>

class QLabel;
class QProgressBar;
class QPushButton;
class QTabWidget;

namespace layerscope::ui {

class AtlasProjector;
class AtlasView;

class AtlasDock : public QDockWidget {
    Q_OBJECT

public:
    explicit AtlasDock(QWidget* parent = nullptr);
    ~AtlasDock() override;

    void openAtlas(const QString& path);
    // Runs the pass on a worker thread with the window's model (Model::run may run on several
    // threads at once); the atlas opens when it is written.
    void build(const AtlasJob& job, std::shared_ptr<const Model> model);
    void cancelBuild();
    bool isBuilding() const { return building_; }
    QString atlasPath() const { return path_; }

    // The views as files (false when the file cannot be written or nothing is open).
    bool exportStatistics(const QString& path) const;  // the shown capture's channels, CSV
    bool exportPatches(const QString& path) const;     // the shown channel's images, PNG
    bool exportProjector(const QString& path) const;   // the projector, PNG, PDF or SVG
    bool exportCoordinates(const QString& path) const; // the projector's points, CSV

    AtlasView* view() const { return view_; }
    void showProjector();
    AtlasProjector* projector() const { return projector_; }

signals:
    void opened(const QString& path);
    void built(const QString& path);
    void buildCancelled();
    void failed(const QString& message);
    void imageActivated(const QString& file, const QString& capture, int channel);

private:
    void exportDialog(int what);

    AtlasView* view_;
    AtlasProjector* projector_;
    QTabWidget* tabs_;
    QLabel* status_;
    QProgressBar* progress_;
    QPushButton* cancel_;
    QString path_;
    bool building_ = false;
    std::shared_ptr<std::atomic<bool>> stop_;
};

} // namespace layerscope::ui
