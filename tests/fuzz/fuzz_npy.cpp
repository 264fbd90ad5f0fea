// libFuzzer target: the .npy parser (core/src/npy.cpp) on arbitrary bytes. layerscope::Error (one
// line naming the source and the cause) is the expected answer to a bad file; anything else, or a
// sanitizer report, is a finding.

#include "layerscope/error.h"
#include "layerscope/npy.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    try {
        const layerscope::Tensor tensor = layerscope::parseNpy(data, size, "fuzz.npy");
        // What a reader hands out must be what the header promised, within the bytes given.
        if (tensor.nbytes() > size)
            __builtin_trap();
    } catch (const layerscope::Error&) {
    }
    return 0;
}
