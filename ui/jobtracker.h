#pragma once

#include "layerscope/job.h"

#include <QObject>
#include <QString>

#include <vector>

namespace layerscope::ui {

// The window's long operations (KDAB hotspot's JobTracker is the model). Every job has its own
// id and cancel token. A new load or run supersedes the previous one of its kind (its token is
// cancelled, so a forward stops at its next module and a queued job stops before it starts, and
// its result is dropped); exports queue up, each one current until it ends. Esc cancels exactly
// the jobs shown as running. GUI thread only.
class JobTracker : public QObject {
    Q_OBJECT

public:
    enum class Kind { Load, Run, Export };
    explicit JobTracker(QObject* parent = nullptr);

    // A new current job of `kind`; the JobControl goes to the engine (copies share the token).
    JobControl start(Kind kind, const QString& description, bool cancellable = true);
    // Whether the job's result is wanted: not superseded by a newer job of its kind.
    bool isCurrent(Kind kind, quint64 id) const;
    // Cancels and drops the jobs of a kind without starting a new one (a run of the previous model).
    void supersede(Kind kind);
    // The engine is done with the job (result, failure or cancel).
    void finish(quint64 id);
    void setProgress(quint64 id, qint64 done, qint64 total);
    // Esc: cancels every current, cancellable job; returns how many were cancelled.
    int cancelShown();

    bool isRunning() const;     // a current job is running
    bool canCancel() const;     // ... and one of them can be cancelled and is not cancelled yet
    QString statusText() const; // "Exporting 3 modules to a.npz: 192 of 256", "Cancelling: …"
    qint64 progressDone() const;
    qint64 progressTotal() const; // 0: unknown

signals:
    void changed();

private:
    struct Entry {
        quint64 id;
        Kind kind;
        CancelToken token;
        QString description;
        bool cancellable;
        bool superseded = false;
        qint64 done = 0, total = 0;
    };
    const Entry* shown() const; // the newest job that is not superseded
    Entry* find(quint64 id);
    const Entry* find(quint64 id) const;

    std::vector<Entry> entries_; // started and not finished, superseded ones included
    quint64 current_[3] = {0, 0, 0};
    quint64 nextId_ = 0;
};

} // namespace layerscope::ui
