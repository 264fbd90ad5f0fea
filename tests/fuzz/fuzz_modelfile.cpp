// libFuzzer target: the model archive check (core/src/model/modelfile.cpp) that runs before LibTorch sees a
// file: declared sizes (zip bombs), the torch.save pickle diagnosis, and the lexer that reads the
// TorchScript source for operators that reach outside the model. The bytes go to the archive check,
// and as source text straight to the lexer (mutations of an archive rarely keep its CRCs intact).
// Besides crashes and sanitizer reports, two oracles: trusting a model only skips the code check, so
// an archive the untrusted check accepts is accepted trusted too, and a trusted check never reports
// an untrusted model. Run with -malloc_limit_mb=256: the check holds at most one code entry, of at
// most 32 MiB.

#include "layerscope/error.h"
#include "model/modelfile_p.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    bool acceptedUntrusted = false;
    try {
        layerscope::detail::checkModelArchive(data, size, "input");
        acceptedUntrusted = true;
    } catch (const layerscope::Error&) {
    }
    try {
        layerscope::detail::checkModelArchive(data, size, "input", /*trustModel=*/true);
    } catch (const layerscope::UntrustedModelError& error) {
        std::fprintf(stderr, "trusted check refused as untrusted: %s\n", error.what());
        std::abort();
    } catch (const layerscope::Error& error) {
        if (acceptedUntrusted) {
            std::fprintf(stderr, "accepted untrusted, refused trusted: %s\n", error.what());
            std::abort();
        }
    }
    try {
        layerscope::detail::checkTorchScriptSource(std::string_view(reinterpret_cast<const char*>(data), size),
                                                   "input/code/__torch__.py", "input");
    } catch (const layerscope::UntrustedModelError&) {
    }
    return 0;
}
