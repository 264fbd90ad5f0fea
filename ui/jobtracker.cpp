#include "jobtracker.h"

#include <QThread>

#include <algorithm>
#include <utility>

namespace layerscope::ui {

JobTracker::JobTracker(QObject* parent)
    : QObject(parent)
{
}

JobControl JobTracker::start(Kind kind, const QString& description, bool cancellable)
{
    Q_ASSERT(QThread::currentThread() == thread());
    if (kind != Kind::Export) {
        for (auto& entry : entries_) {
            if (entry.kind == kind && !entry.superseded) {
                entry.superseded = true;
                entry.token.cancel(); // let it stop early instead of running to the end
            }
        }
    }
    JobControl control;
    control.id = ++nextId_;
    entries_.push_back({control.id, kind, control.cancel, description, cancellable});
    current_[int(kind)] = control.id;
    emit changed();
    return control;
}

void JobTracker::supersede(Kind kind)
{
    bool any = false;
    for (auto& entry : entries_) {
        if (entry.kind == kind && !entry.superseded) {
            entry.superseded = true;
            entry.token.cancel();
            any = true;
        }
    }
    current_[int(kind)] = 0;
    if (any)
        emit changed();
}

bool JobTracker::isCurrent(Kind kind, quint64 id) const
{
    if (const Entry* entry = find(id))
        return entry->kind == kind && !entry->superseded;
    return id != 0 && current_[int(kind)] == id; // finished, and nothing newer of its kind started
}

const JobTracker::Entry* JobTracker::find(quint64 id) const
{
    const auto it = std::find_if(entries_.begin(), entries_.end(), [id](const Entry& e) { return e.id == id; });
    return it == entries_.end() ? nullptr : &*it;
}

JobTracker::Entry* JobTracker::find(quint64 id) { return const_cast<Entry*>(std::as_const(*this).find(id)); }

void JobTracker::finish(quint64 id)
{
    const auto it = std::find_if(entries_.begin(), entries_.end(), [id](const Entry& e) { return e.id == id; });
    if (it == entries_.end())
        return;
    entries_.erase(it);
    emit changed();
}

void JobTracker::setProgress(quint64 id, qint64 done, qint64 total)
{
    Entry* entry = find(id);
    if (!entry || entry->token.cancelled())
        return; // a late report must not bring back "Exporting: 192 of 256" after Esc
    entry->done = done;
    entry->total = total;
    emit changed();
}

int JobTracker::cancelShown()
{
    int cancelled = 0;
    for (auto& entry : entries_) {
        if (entry.cancellable && !entry.superseded && !entry.token.cancelled()) {
            entry.token.cancel();
            ++cancelled;
        }
    }
    if (cancelled)
        emit changed();
    return cancelled;
}

const JobTracker::Entry* JobTracker::shown() const
{
    const Entry* newest = nullptr;
    for (const auto& entry : entries_) {
        if (!entry.superseded && (!newest || entry.id > newest->id))
            newest = &entry;
    }
    return newest;
}

bool JobTracker::isRunning() const { return shown() != nullptr; }

bool JobTracker::canCancel() const
{
    return std::any_of(entries_.begin(), entries_.end(),
                       [this](const Entry& e) { return e.cancellable && !e.superseded && !e.token.cancelled(); });
}

QString JobTracker::statusText() const
{
    const Entry* entry = shown();
    if (!entry)
        return {};
    if (entry->token.cancelled())
        return tr("Cancelling: %1").arg(entry->description);
    if (entry->total > 0)
        return tr("%1: %2 of %3").arg(entry->description).arg(entry->done).arg(entry->total);
    return entry->description;
}

qint64 JobTracker::progressDone() const
{
    const Entry* entry = shown();
    return entry ? entry->done : 0;
}

qint64 JobTracker::progressTotal() const
{
    const Entry* entry = shown();
    return entry ? entry->total : 0;
}

} // namespace layerscope::ui
