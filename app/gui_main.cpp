// layerscope: the desktop application. Without arguments it opens the bundled Fashion-MNIST demo;
// `layerscope MODEL [IMAGE...]` opens the given model with one image (or .npy) per forward argument.

#include "atlasdock.h"
#include "atlasprojector.h"
#include "atlasview.h"
#include "channeldialog.h"
#include "explainview.h"
#include "layerscope/attribution.h"
#include "layerscope/error.h"
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
    parser.setApplicationDescription("Explore the activations of PyTorch models (TorchScript or ONNX).");
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument(
        "model", "TorchScript model (torch.jit.script or torch.jit.trace, then save) or ONNX model", "[MODEL]");
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
    QCommandLineOption projector("projector", "With --atlas: show its projector (with --screenshot, once drawn).");
    parser.addOption(projector);
    QCommandLineOption atlasScreenshot(
        "atlas-screenshot", "As --screenshot, but the Atlas dock alone, floated at 900x680 (for the README).", "FILE");
    parser.addOption(atlasScreenshot);
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
    if (parser.isSet(explain)) { // an unknown method is a usage error, before any window
        try {
            layerscope::attributionMethodFromName(parser.value(explain).toStdString());
        } catch (const layerscope::Error& error) {
            std::fprintf(stderr, "layerscope: --explain: %s\n", error.what());
            return 2;
        }
    }

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
    if (parser.isSet(atlas) && parser.isSet(projector))
        window.atlasDock()->showProjector();

    if (parser.isSet(channel))
        QObject::connect(
            &window, &layerscope::ui::MainWindow::runReady, &window,
            [&window, c = parser.value(channel).toInt()] { window.showChannel(c); }, Qt::SingleShotConnection);
    if (parser.isSet(explain)) {
        window.explainView()->setMethod(parser.value(explain));
        window.explainView()->setTopThree(parser.isSet(topThree));
        window.showExplain(parser.value(module));
    }
    if (parser.isSet(screenshot) || parser.isSet(atlasScreenshot)) {
        const bool dockOnly = parser.isSet(atlasScreenshot);
        const QString file = dockOnly ? parser.value(atlasScreenshot) : parser.value(screenshot);
        // The first run, and the atlas's first patches when one is opened, must be on screen.
        auto waiting = std::make_shared<int>((parser.isSet(atlas) ? 2 : 1) + (parser.isSet(explain) ? 1 : 0)
                                             + (parser.isSet(atlas) && parser.isSet(projector) ? 1 : 0));
        auto shoot = [&window, file, waiting, dockOnly] {
            if (--*waiting != 0)
                return;
            auto save = [&window, file, dockOnly] {
                QTimer::singleShot(300, &window, [&window, file, dockOnly] {
                    auto* dialog = window.findChild<layerscope::ui::ChannelDialog*>();
                    QWidget* shown = dockOnly ? static_cast<QWidget*>(window.atlasDock())
                        : dialog              ? static_cast<QWidget*>(dialog)
                                              : &window;
                    shown->grab().save(file);
                    QApplication::quit();
                });
            };
            if (!dockOnly)
                return save();
            window.atlasDock()->setFloating(true);
            window.atlasDock()->resize(900, 680);
            auto* projector = window.atlasDock()->projector();
            if (!projector->isVisible())
                return save();
            // The projector as a user leaves it: coloured by class, one image's neighbours in the strip.
            QObject::connect(projector, &layerscope::ui::AtlasProjector::stripShown, &window, save,
                             Qt::SingleShotConnection);
            projector->setColouring(layerscope::ui::AtlasProjector::Colouring::PredictedClass);
            projector->showNeighbours(0);
        };
        QObject::connect(&window, &layerscope::ui::MainWindow::runReady, &window, shoot, Qt::SingleShotConnection);
        // The patches with their maps when the window's model is the atlas's (known once its file is hashed).
        auto patchesDone = std::make_shared<bool>(false);
        auto* view = window.atlasDock()->view();
        QObject::connect(view, &layerscope::ui::AtlasView::patchesShown, &window, [&window, view, shoot, patchesDone] {
            if (*patchesDone || view->mapsPending() || window.currentModelPath().isEmpty())
                return;
            *patchesDone = true;
            shoot();
        });
        if (parser.isSet(projector))
            QObject::connect(window.atlasDock()->projector(), &layerscope::ui::AtlasProjector::projected, &window,
                             shoot, Qt::SingleShotConnection);
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
