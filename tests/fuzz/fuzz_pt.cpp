// libFuzzer target for the torch.save reader (merge reads .pt shards with it): any bytes must end in
// tensors or a layerscope::Error. Any other exception, a sanitizer report, a hang or a large allocation
// is a finding. A zip archive ("PK") goes through the whole reader; anything else straight into the
// pickle machine, which mutations of an archive reach only rarely (they break its CRCs).

#include "formats/tensorpickle_p.h"
#include "layerscope/error.h"
#include "layerscope/ptfile.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    try {
        if (size < 2 || data[0] != 'P' || data[1] != 'K') {
            layerscope::detail::unpickleTensorDict(reinterpret_cast<const char*>(data), size, "fuzz.pkl");
            return 0;
        }
        std::size_t total = 0;
        for (const layerscope::NamedTensor& named : layerscope::parsePt(data, size, "fuzz.pt")) {
            // Touch each tensor's last byte: one that reaches past its storage would be caught here.
            const std::size_t bytes = named.tensor.nbytes();
            total += bytes;
            if (bytes > 0)
                static_cast<void>(*(static_cast<const volatile char*>(named.tensor.data.get()) + bytes - 1));
        }
        if (total > size) // tensors hold no more than the archive's bytes
            __builtin_trap();
    } catch (const layerscope::Error&) {
    }
    return 0;
}
