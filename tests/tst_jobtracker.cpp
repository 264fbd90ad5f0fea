// The GUI's job tracker: one token per job, superseded jobs cancelled, Esc cancels what is shown.

#include "jobtracker.h"

#include <QSignalSpy>
#include <QtTest>

using namespace layerscope;
using layerscope::ui::JobTracker;

class TestJobTracker : public QObject {
    Q_OBJECT

private slots:
    void aNewRunCancelsTheSupersededOne();
    void escCancelsTheExportThatWaitsBehindARun();
    void lateProgressDoesNotUndoTheCancel();
    void finishedJobsAreNotShown();
    void exportsQueueUpInsteadOfSuperseding();
};

void TestJobTracker::aNewRunCancelsTheSupersededOne()
{
    JobTracker tracker;
    const JobControl first = tracker.start(JobTracker::Kind::Run, "Running a.png");
    const JobControl second = tracker.start(JobTracker::Kind::Run, "Running b.png");
    QVERIFY(first.cancel.cancelled());
    QVERIFY(!second.cancel.cancelled());
    QVERIFY(!tracker.isCurrent(JobTracker::Kind::Run, first.id));
    QVERIFY(tracker.isCurrent(JobTracker::Kind::Run, second.id));
    QCOMPARE(tracker.statusText(), QString("Running b.png"));
}

// The bug this replaces: one shared flag, reset when the export started, so an Esc pressed while
// the export waited behind a forward was lost.
void TestJobTracker::escCancelsTheExportThatWaitsBehindARun()
{
    JobTracker tracker;
    const JobControl run = tracker.start(JobTracker::Kind::Run, "Running a.png", false);
    const JobControl exportJob = tracker.start(JobTracker::Kind::Export, "Exporting 3 modules");
    QCOMPARE(tracker.cancelShown(), 1);
    QVERIFY(exportJob.cancel.cancelled());
    QVERIFY(!run.cancel.cancelled()); // not cancellable, not touched
    tracker.finish(run.id);           // the export starts only now: its token is already set
    QVERIFY(exportJob.cancel.cancelled());
    QVERIFY(!tracker.canCancel());
}

void TestJobTracker::lateProgressDoesNotUndoTheCancel()
{
    JobTracker tracker;
    const JobControl exportJob = tracker.start(JobTracker::Kind::Export, "Exporting");
    tracker.setProgress(exportJob.id, 128, 256);
    QCOMPARE(tracker.statusText(), QString("Exporting: 128 of 256"));
    tracker.cancelShown();
    tracker.setProgress(exportJob.id, 192, 256); // a report already on its way
    QCOMPARE(tracker.statusText(), QString("Cancelling: Exporting"));
}

void TestJobTracker::finishedJobsAreNotShown()
{
    JobTracker tracker;
    QSignalSpy changed(&tracker, &JobTracker::changed);
    const JobControl load = tracker.start(JobTracker::Kind::Load, "Opening resnet18.pt");
    QVERIFY(tracker.isRunning());
    tracker.finish(load.id);
    QVERIFY(!tracker.isRunning());
    QCOMPARE(tracker.statusText(), QString());
    QCOMPARE(changed.count(), 2);
    QVERIFY(tracker.isCurrent(JobTracker::Kind::Load, load.id)); // its result is still the latest
}

void TestJobTracker::exportsQueueUpInsteadOfSuperseding()
{
    JobTracker tracker;
    const JobControl first = tracker.start(JobTracker::Kind::Export, "Exporting to a.npz");
    const JobControl second = tracker.start(JobTracker::Kind::Export, "Exporting to b.mat");
    QVERIFY(!first.cancel.cancelled());
    QVERIFY(tracker.isCurrent(JobTracker::Kind::Export, first.id));
    QVERIFY(tracker.isCurrent(JobTracker::Kind::Export, second.id));
    QCOMPARE(tracker.cancelShown(), 2); // Esc stops both: both are shown as running
}

QTEST_GUILESS_MAIN(TestJobTracker)
#include "tst_jobtracker.moc"
