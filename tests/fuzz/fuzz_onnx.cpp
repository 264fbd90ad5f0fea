// libFuzzer target: the ONNX reader (core/src/onnx/onnxgraph.cpp) that checks a file before OpenCV DNN
// sees it: protobuf parsing, tensor sizes against their data, node order, the operator list, the
// rewrites and the module tree rebuilt from scope names. Besides crashes and sanitizer reports, one
// oracle: what it hands to OpenCV reads back to the same tree and the same capture points, and needs
// no further rewrite.

#include "layerscope/error.h"
#include "onnx/onnxgraph_p.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace {

[[noreturn]] void fail(const char* what)
{
    std::fprintf(stderr, "%s\n", what);
    std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    using layerscope::detail::OnnxGraph;
    OnnxGraph first;
    try {
        first = layerscope::detail::readOnnxGraph(data, size, "input");
    } catch (const layerscope::Error&) {
        return 0;
    }
    for (const auto& call : first.calls)
        for (const auto& value : call.values)
            if (!first.producers.count(value))
                fail("a capture point without a producer");
    for (std::size_t i = 1; i < first.modules.size(); ++i)
        if (first.modules[i].parent < 0 || std::size_t(first.modules[i].parent) >= i)
            fail("a module whose parent does not come before it");
    OnnxGraph again;
    try {
        again = layerscope::detail::readOnnxGraph(first.serialized.data(), first.serialized.size(), "rewritten");
    } catch (const layerscope::Error& error) {
        std::fprintf(stderr, "%s\n", error.what());
        fail("the rewritten graph is refused");
    }
    if (!again.rewrites.empty())
        fail("the rewritten graph needs rewriting again");
    if (again.modules.size() != first.modules.size() || again.calls.size() != first.calls.size())
        fail("the rewritten graph gives another tree");
    for (std::size_t i = 0; i < first.modules.size(); ++i)
        if (again.modules[i].name != first.modules[i].name
            || again.modules[i].unavailable != first.modules[i].unavailable)
            fail("the rewritten graph names its modules differently");
    return 0;
}
