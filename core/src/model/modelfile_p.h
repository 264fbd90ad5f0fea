#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace layerscope::detail {

// True for a file LayerScope opens as ONNX: not a zip archive, and named *.onnx or starting as a
// serialized ModelProto does (field 1, ir_version, as a one-byte varint).
bool looksLikeOnnx(const std::string& path);

// Looks at a model file before LibTorch does, so the common mistakes get a clear message:
// missing or unreadable file, not a zip archive, truncated or corrupt archive, and a torch.save
// pickle (state_dict or eager nn.Module) instead of TorchScript. Hostile files too: an archive
// whose entries declare far more bytes than the file holds (a zip bomb) is refused before anything
// is inflated, and unless `trustModel`, a model whose TorchScript source calls an operator that
// reaches outside the model (torch.from_file, torch.save ...) is refused before LibTorch compiles
// or runs any of it (UntrustedModelError). Throws layerscope::Error.
// ONNX files pass through: their reader checks them as it parses.
void checkModelFile(const std::string& path, bool trustModel = false);

// The same checks on an archive in memory; `name` stands for the file in messages. For the fuzzer.
void checkModelArchive(const void* bytes, std::size_t size, const std::string& name, bool trustModel = false);

// The code check of one source file, archive entry `entry` of model `name`: throws UntrustedModelError.
void checkTorchScriptSource(std::string_view source, const std::string& entry, const std::string& name);

} // namespace layerscope::detail
