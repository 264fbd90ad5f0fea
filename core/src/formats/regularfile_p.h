#pragma once

#include <cstdint>
#include <string>

namespace layerscope::detail {

// Opens `path` (a symlink is followed) for reading only if it is a regular file, without blocking on a FIFO or
// touching a device: the .npy and .npz readers' first step. Returns the descriptor and the file's size; throws
// layerscope::Error ("x.npy: not a regular file (a FIFO)"). `what` names the expected file: "a .npy file".
int openRegularFile(const std::string& path, const char* what, std::uint64_t* size);

} // namespace layerscope::detail
