#pragma once

#include <stdexcept>
#include <string>

namespace layerscope {

// Every failure the engine reports to a user: one line that names the file or module and the cause.
// Never carries a LibTorch backtrace.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A forward that failed on images of the wrong size, for a model that tells the size it takes (a
// Linear after a flatten fixes H x W): the message ends with the advice ("the model expects 1x28x28
// inputs ...; set Resize to 28x28"), and the suggested size is kept for a GUI to offer.
class InputSizeError : public Error {
public:
    InputSizeError(const std::string& message, int channels, int height, int width)
        : Error(message)
        , channels(channels)
        , height(height)
        , width(width)
    {
    }
    int channels, height, width;
};

// A model whose TorchScript code uses an operator that reaches outside the model (files, the network)
// or hides which operators it calls. Thrown before LibTorch runs any of the model's code; such a
// model opens only when the user trusts it (LoadOptions::trustModel). The parts are kept so that a
// GUI can ask in its own words.
class UntrustedModelError : public Error {
public:
    struct Finding {
        std::string path;      // the model file
        std::string usage;     // "calls torch.from_file", "uses torch as a value"
        std::string operation; // the operator as the source spells it: "torch.from_file"
        std::string method;    // "__setstate__"; empty outside a method
        std::string owner;     // qualified class, or module of a function: "__torch__.Evil"
        bool ownerIsClass = false;
        std::string entry; // archive entry: "evil/code/__torch__.py"
        int line = 0;      // in that entry, 1-based
        std::string risk;  // "read or write files"
    };

    // "evil.pt: the model calls torch.from_file in method __setstate__ of __torch__.Evil: it can read
    // or write files; open it only if you trust it (--trust-model)"
    explicit UntrustedModelError(Finding finding);

    const Finding& finding() const { return finding_; }

private:
    Finding finding_;
};

} // namespace layerscope
