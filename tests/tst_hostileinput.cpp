// Hostile input as normal input: what a killed run leaves behind, and the crafted files found by
// fuzzing (tests/fuzz/regressions), fed through the parsers that first see untrusted bytes.

#include "layerscope/error.h"
#include "layerscope/exporters.h"
#include "layerscope/npy.h"
#include "testsupport.h"

#include <QDir>
#include <QTemporaryDir>
#include <QtTest>

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

using namespace layerscope;

class TestHostileInput : public QObject {
    Q_OBJECT

private slots:
    void stagingOfAKilledRunIsRemovedByTheNextRun();
    void liveStagingAndForeignFilesAreKept();
};

namespace {

Tensor rows(std::int64_t count)
{
    return Tensor::zeros({count, 16}, DType::Float32);
}

QStringList stagingEntries(const QString& folder)
{
    return QDir(folder).entryList({".*.partial-*"}, QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot);
}

// A child process stages an export, reports through a pipe that it has, and is killed with SIGKILL:
// exactly what a preempted job or the OOM killer does. No timing: the pipe says when.
void stageThenGetKilled(const std::string& output)
{
    int ready[2];
    QVERIFY(::pipe(ready) == 0);
    const pid_t child = ::fork();
    QVERIFY(child >= 0);
    if (child == 0) {
        ::close(ready[0]);
        try {
            auto* writer = new CaptureWriter(output); // never destroyed: the kill comes first
            writer->append({{"layer", rows(64)}});
        } catch (...) {
            ::_exit(3);
        }
        const char byte = 1;
        if (::write(ready[1], &byte, 1) != 1)
            ::_exit(4);
        for (;;)
            ::pause();
    }
    ::close(ready[1]);
    char byte = 0;
    const auto got = ::read(ready[0], &byte, 1);
    ::close(ready[0]);
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    QCOMPARE(got, ssize_t(1));
    QVERIFY(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

} // namespace

void TestHostileInput::stagingOfAKilledRunIsRemovedByTheNextRun()
{
    QTemporaryDir dir;
    const QString output = dir.filePath("features.npz");
    stageThenGetKilled(output.toStdString());
    if (QTest::currentTestFailed())
        return;
    QCOMPARE(stagingEntries(dir.path()).size(), 1); // what SIGKILL leaves: the bug, reproduced

    {
        CaptureWriter next(output.toStdString());
        next.append({{"layer", rows(3)}});
        next.commit();
    }
    QCOMPARE(stagingEntries(dir.path()), QStringList());
    QCOMPARE(readNpz(output.toStdString()).front().tensor.shape, (std::vector<std::int64_t>{3, 16}));
}

void TestHostileInput::liveStagingAndForeignFilesAreKept()
{
    QTemporaryDir dir;
    // A live export in the same folder, and look-alikes that are not LayerScope's staging.
    auto live = std::make_unique<CaptureWriter>(dir.filePath("a.npz").toStdString());
    live->append({{"layer", rows(2)}});
    QDir(dir.path()).mkdir(".photos.partial-abcdef"); // a folder without our marker
    QDir(dir.path()).mkdir(".b.partial-toolong1");
    QCOMPARE(stagingEntries(dir.path()).size(), 3);

    {
        CaptureWriter other(dir.filePath("b.npz").toStdString());
        QCOMPARE(stagingEntries(dir.path()).size(), 4);
    }
    QCOMPARE(stagingEntries(dir.path()).size(), 3);
    live->commit();
    live.reset();
    QVERIFY(QFile::exists(dir.filePath("a.npz")));
    QCOMPARE(stagingEntries(dir.path()), QStringList({".b.partial-toolong1", ".photos.partial-abcdef"}));
}

QTEST_APPLESS_MAIN(TestHostileInput)
#include "tst_hostileinput.moc"
