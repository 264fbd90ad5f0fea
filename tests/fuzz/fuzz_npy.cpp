// libFuzzer target for the .npy parser: any bytes must end in a tensor or a layerscope::Error. Any other
// exception, a sanitizer report, a hang or a large allocation is a finding.

#include "layerscope/error.h"
#include "layerscope/npy.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    try {
        const layerscope::Tensor tensor = layerscope::parseNpy(data, size, "fuzz.npy");
        // Touch the payload's last byte: a tensor larger than the bytes it came from would be caught here.
        if (tensor.nbytes() > size)
            __builtin_trap();
        if (tensor.nbytes() > 0)
            static_cast<void>(*(static_cast<const volatile char*>(tensor.data.get()) + tensor.nbytes() - 1));
    } catch (const layerscope::Error&) {
    }
    return 0;
}
