#pragma once
// File names, the same way everywhere.

#include <string>

namespace layerscope::detail {

// The extension in lower case, with its dot: ".jpg" for "a/B.JPG". Bytes above 127 (UTF-8 names)
// are left as they are.
std::string lowerExtension(const std::string& path);

// "out/" and "out//" name the output "out": its staging, manifest and resume state go beside it.
std::string withoutTrailingSlashes(std::string path);

} // namespace layerscope::detail
