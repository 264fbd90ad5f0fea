#include "paths_p.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

namespace layerscope::detail {

std::string lowerExtension(const std::string& path)
{
    std::string extension = std::filesystem::path(path).extension().string();
    // std::tolower takes an unsigned char's value: a plain char above 127 would be undefined.
    std::transform(extension.begin(), extension.end(), extension.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    return extension;
}

std::string withoutTrailingSlashes(std::string path)
{
    while (path.size() > 1 && path.back() == '/')
        path.pop_back();
    return path;
}

} // namespace layerscope::detail
