// Hostile input as normal input: what a killed run leaves behind, and the crafted files found by
// fuzzing (tests/fuzz/regressions), fed through the parsers that first see untrusted bytes.

#include "cliarguments.h"
#include "layerscope/error.h"
#include "layerscope/exporters.h"
#include "layerscope/model.h"
#include "layerscope/npy.h"
#include "layerscope/preprocessing.h"
#include "layerscope/ptfile.h"
#include "testsupport.h"

#include <QDir>
#include <QFileInfo>
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
    void regressionInputs_data();
    void regressionInputs();
};

namespace {

Tensor rows(std::int64_t count) { return Tensor::zeros({count, 16}, DType::Float32); }

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
    QCOMPARE(readNpz(output.toStdString()).front().tensor.shape, (std::vector<std::int64_t> {3, 16}));
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

// Every file in tests/fuzz/regressions/<parser>/ (crashers found by review and fuzzing, and their
// harmless look-alikes) through the parser the fuzz target drives, by its public entry point.
void TestHostileInput::regressionInputs_data()
{
    QTest::addColumn<QString>("parser");
    QTest::addColumn<QString>("file");
    const QDir root(QStringLiteral(LAYERSCOPE_TESTS_SOURCE_DIR "/fuzz/regressions"));
    int files = 0;
    for (const QString& parser : {"npy", "image", "modelfile", "pt", "cli"}) {
        for (const QString& name : QDir(root.filePath(parser)).entryList(QDir::Files, QDir::Name)) {
            QTest::newRow(qPrintable(parser + "/" + name)) << parser << root.filePath(parser + "/" + name);
            ++files;
        }
    }
    QVERIFY(files > 0);
}

void TestHostileInput::regressionInputs()
{
    QFETCH(QString, parser);
    QFETCH(QString, file);
    const std::string path = file.toStdString();
    std::string message;
    try {
        if (parser == "npy") {
            QFile in(file);
            QVERIFY(in.open(QIODevice::ReadOnly));
            const QByteArray bytes = in.readAll();
            parseNpy(bytes.constData(), std::size_t(bytes.size()), path);
            readNpy(path);
        } else if (parser == "cli") {
            // One argument a line, as fuzz_cli reads them; the CLI names options, so the file is added.
            QFile in(file);
            QVERIFY(in.open(QIODevice::ReadOnly));
            QList<QByteArray> lines = in.readAll().split('\n');
            if (!lines.isEmpty() && lines.last().isEmpty())
                lines.removeLast();
            std::vector<std::string> arguments;
            for (const QByteArray& argument : lines)
                arguments.push_back(argument.toStdString());
            CLI::App app {"layerscope-cli"};
            cli::CommandLine line;
            cli::declareCommandLine(app, line);
            try {
                cli::parseArguments(app, arguments);
                cli::checkCommandLine(line);
            } catch (const std::exception& error) {
                throw Error(file.toStdString() + ": " + error.what());
            }
        } else if (parser == "pt") { // pickles that fuzz_pt found alone are kept inside an archive
            readPt(path);
        } else if (parser == "image") {
            checkImageFile(path);
            loadImage(path, Preprocessing::imagenet());
        } else {
            Model::load(path);
        }
    } catch (const Error& error) {
        message = error.what();
    }
    if (parser == "cli")
        QVERIFY2(!message.empty(), "a bad command line was accepted"); // each one is a value that must be refused
    if (message.empty())
        return; // a look-alike that is valid: read without harm
    // One clear line that names the file.
    QVERIFY2(message.find('\n') == std::string::npos, message.c_str());
    QVERIFY2(message.find(QFileInfo(file).fileName().toStdString()) != std::string::npos, message.c_str());
}

QTEST_APPLESS_MAIN(TestHostileInput)
#include "tst_hostileinput.moc"
