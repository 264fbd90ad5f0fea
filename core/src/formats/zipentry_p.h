#pragma once
// Reading one entry of a zip archive whose sizes were checked before: exactly what it declares.

#include <zip.h>

#include <memory>
#include <string>

namespace layerscope::detail {

using ZipHandle = std::unique_ptr<zip_t, decltype(&zip_discard)>;

// The error text of a libzip error code, as zip_open and zip_fdopen report them.
std::string zipErrorText(int code);

// Entry `index` of `archive`, which declares `size` bytes: read into a fresh buffer, then one byte more
// to find its end (an entry that inflates to more than it declared is corrupt, and reaching the end is
// what makes libzip check the CRC). Errors name "<source>: <kind> entry '<name>'" and the cause.
std::unique_ptr<char[]> readZipEntry(zip_t* archive, zip_uint64_t index, zip_uint64_t size, const std::string& source,
                                     const std::string& kind, const std::string& name);

} // namespace layerscope::detail
