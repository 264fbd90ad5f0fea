#include "formats/zipentry_p.h"

#include "layerscope/error.h"

#include <new>

namespace layerscope::detail {

std::string zipErrorText(int code)
{
    zip_error_t error;
    zip_error_init_with_code(&error, code);
    std::string text = zip_error_strerror(&error);
    zip_error_fini(&error);
    return text;
}

std::unique_ptr<char[]> readZipEntry(zip_t* archive, zip_uint64_t index, zip_uint64_t size, const std::string& source,
                                     const std::string& kind, const std::string& name)
{
    const std::string what = source + ": " + kind + " entry '" + name + "'";
    std::unique_ptr<char[]> bytes(new (std::nothrow) char[size > 0 ? size : 1]);
    if (!bytes)
        throw Error(what + ": not enough memory to read its " + std::to_string(size) + " bytes");
    zip_file_t* file = zip_fopen_index(archive, index, 0);
    if (!file)
        throw Error(what + " is corrupt (" + zip_strerror(archive) + ")");
    zip_uint64_t done = 0;
    zip_int64_t n = 0;
    while (done < size && (n = zip_fread(file, bytes.get() + done, size - done)) > 0)
        done += static_cast<zip_uint64_t>(n);
    char extra;
    const zip_int64_t beyond = n < 0 ? -1 : zip_fread(file, &extra, 1);
    const std::string error = n < 0 || beyond < 0 ? zip_file_strerror(file) : "";
    zip_fclose(file);
    if (n < 0 || beyond < 0)
        throw Error(what + " is corrupt (" + error + ")");
    if (done != size || beyond != 0)
        throw Error(what + " is corrupt (it holds " + (beyond != 0 ? "more" : "fewer") + " bytes than the "
                    + std::to_string(size) + " it declares)");
    return bytes;
}

} // namespace layerscope::detail
