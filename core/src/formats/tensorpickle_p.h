#pragma once
// The pickle inside a torch.save archive of a dict of tensors, read without LibTorch or Python.

#include "layerscope/tensor.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace layerscope::detail {

// One tensor of the dict as the pickle describes it: a view of a storage, whose bytes are the
// archive's entry data/<storageKey>. Nothing here is checked against the archive yet.
struct PickledTensor {
    std::string name;
    std::string storageKey;
    DType dtype = DType::Float32;
    std::int64_t storageElements = 0;
    std::int64_t offset = 0;
    std::vector<std::int64_t> shape, stride;
};

// A name from the file (an entry, a key, a global) for a one-line message: printable ASCII only, '?'
// for anything else, at most `most` characters.
std::string printableName(const std::string& text, std::size_t most = 120);

// Runs the pickle on a machine that knows only what torch.save (Python) and torch::pickle_save
// (LibTorch) write for a dict of name to tensor: protocol 2 opcodes, and four globals
// (torch._utils._rebuild_tensor_v2, torch.<Type>Storage, collections.OrderedDict,
// torch.jit._pickle.restore_type_tag). A pickle is a program: any other global, opcode or shape of
// value is refused, never called. Throws layerscope::Error, "<sourceName>: <cause>".
std::vector<PickledTensor> unpickleTensorDict(const char* bytes, std::size_t size, const std::string& sourceName);

} // namespace layerscope::detail
