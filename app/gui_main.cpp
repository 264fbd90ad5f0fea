// layerscope: the desktop application. Without arguments it opens the bundled Fashion-MNIST demo;
// `layerscope MODEL [IMAGE...]` opens the given model with one image (or .npy) per forward argument.

#include "atlasdock.h"
#include "atlasview.h"
#include "channeldialog.h"
#include "explainview.h"
#include "layerscope/runtime.h"
#include "mainwindow.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QIcon>
#include <QTimer>

#include <cstdio>

int main(int argc, char** argv)
{
    QApplication app(argc, argv);
    QApplication::setOrganizationName("LayerScope");
    QApplication::setApplicationName("LayerScope");
    QApplication::setApplicationVersion(LAYERSCOPE_VERSION_STRING);
    QApplication::setWindowIcon(QIcon(QStringLiteral(":/icons/layerscope.svg")));
    QApplication::setDesktopFileName(QStringLiteral("layerscope"));

    QCommandLineParser parser;
    parser.setApplicationDescription("Explore the activations of PyTorch (TorchScript) models.");
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument("model", "TorchScript model (torch.jit.script or torch.jit.trace, then save)",
                                 "[MODEL]");
    parser.addPositionalArgument("inputs", "An image or .npy per forward argument", "[IMAGE...]");
    QCommandLineOption screenshot(
        "screenshot", "Save a screenshot of the window to FILE once the first run is shown, then quit.", "FILE");
    parser.addOption(screenshot);
    QCommandLineOption module("module",
                              "Show this module once the model has run: its qualified name or any capture key "
                              "(feature_model:1 for its second call, enc[0] inside a tuple).",
                              "NAME");
    parser.addOption(module);
    QCommandLineOption atlas(
        "atlas", "Open this atlas (made by Build Atlas or layerscope-cli atlas) in the Atlas dock.", "ATLAS");
    parser.addOption(atlas);
    QCommandLineOption channel("channel",
                               "Open this channel of the shown feature map in its own window (with "
                               "--screenshot, that window is saved).",
                               "C");
    parser.addOption(channel);
    QCommandLineOption explain(
        "explain",
        "Open the Explain tab with this method (gradcam, smoothgrad, ...; see layerscope-cli cam); "
        "with --module, that module is the target. With --screenshot, the window is saved once "
        "the map is shown.",
        "METHOD");
    parser.addOption(explain);
    QCommandLineOption topThree("top3", "With --explain: the top three classes side by side.");
    parser.addOption(topThree);
    parser.process(app);

    layerscope::configureRuntime();
    layerscope::ui::MainWindow window;
    window.show();
    if (parser.isSet(module))
        window.selectAfterFirstRun(parser.value(module));
    const QStringList arguments = parser.positionalArguments();
    if (arguments.isEmpty())
        window.openDemo();
    else
        window.openModel(arguments.first(), arguments.mid(1));

    // Errors also go to the terminal the window was started from (a mistyped --module names its neighbours).
    QObject::connect(&window, &layerscope::ui::MainWindow::errorShown, &window,
                     [](const QString& message) { std::fprintf(stderr, "layerscope: %s\n", qPrintable(message)); });
    if (parser.isSet(atlas))
        window.atlasDock()->openAtlas(parser.value(atlas));

    if (parser.isSet(channel))
        QObject::connect(
            &window, &layerscope::ui::MainWindow::runReady, &window,
            [&window, c = parser.value(channel).toInt()] { window.showChannel(c); }, Qt::SingleShotConnection);
    if (parser.isSet(explain)) {
        window.explainView()->setMethod(parser.value(explain));
        window.explainView()->setTopThree(parser.isSet(topThree));
        window.showExplain(parser.value(module));
    }
    if (parser.isSet(screenshot)) {
        const QString file = parser.value(screenshot);
        // The first run, and the atlas's first patches when one is opened, must be on screen.
        auto waiting = std::make_shared<int>((parser.isSet(atlas) ? 2 : 1) + (parser.isSet(explain) ? 1 : 0));
        auto shoot = [&window, file, waiting] {
            if (--*waiting != 0)
                return;
            QTimer::singleShot(300, &window, [&window, file] {
                auto* dialog = window.findChild<layerscope::ui::ChannelDialog*>();
                (dialog ? dialog->grab() : window.grab()).save(file);
                QApplication::quit();
            });
        };
        QObject::connect(&window, &layerscope::ui::MainWindow::runReady, &window, shoot, Qt::SingleShotConnection);
        QObject::connect(window.atlasDock()->view(), &layerscope::ui::AtlasView::patchesShown, &window, shoot,
                         Qt::SingleShotConnection);
        if (parser.isSet(explain))
            QObject::connect(window.explainView(), &layerscope::ui::ExplainView::finished, &window, shoot,
                             Qt::SingleShotConnection);
        QObject::connect(&window, &layerscope::ui::MainWindow::errorShown, &window, [&window, file] {
            QTimer::singleShot(300, &window, [&window, file] {
                window.grab().save(file);
                QApplication::quit();
            });
        });
    }
    return app.exec();
}
