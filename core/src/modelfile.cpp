#include "modelfile_p.h"

#include "layerscope/error.h"

#include <zip.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

namespace layerscope::detail {

namespace {

const char* const kHowToExport = "export it with torch.jit.script(model).save(path) or "
                                 "torch.jit.trace(model, example_input).save(path)";

std::string readEntry(zip_t* archive, zip_int64_t index, std::size_t limit)
{
    std::string text;
    zip_file_t* file = zip_fopen_index(archive, static_cast<zip_uint64_t>(index), 0);
    if (!file)
        return text;
    text.resize(limit);
    const auto n = zip_fread(file, text.data(), limit);
    zip_fclose(file);
    text.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return text;
}

[[noreturn]] void throwPickle(const std::string& path, const std::string& what)
{
    throw Error(path + ": this is a torch.save pickle (" + what + "), not a TorchScript model; " + kHowToExport);
}

} // namespace

void checkModelFile(const std::string& path)
{
    namespace fs = std::filesystem;
    std::error_code ec;
    const auto status = fs::status(path, ec);
    if (!fs::exists(status))
        throw Error(path + ": no such file");
    if (fs::is_directory(status))
        throw Error(path + ": is a folder, not a model file");

    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(path + ": cannot be read (" + std::strerror(errno) + ")");
    char magic[4] = {};
    in.read(magic, sizeof magic);
    const auto got = in.gcount();
    if (got == 0)
        throw Error(path + ": the file is empty");
    if (got < 4 || std::memcmp(magic, "PK\x03\x04", 4) != 0) {
        // Legacy torch.save (before PyTorch 1.6) writes a bare pickle: protocol 2 opcode, then a magic number.
        if (static_cast<unsigned char>(magic[0]) == 0x80 && got >= 2 && magic[1] == 2)
            throwPickle(path, "the legacy format");
        throw Error(path + ": not a TorchScript model (not a zip archive; torch.jit.save writes zip archives)");
    }

    int zipError = 0;
    std::unique_ptr<zip_t, decltype(&zip_discard)> archive(zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &zipError),
                                                           &zip_discard);
    if (!archive) {
        zip_error_t error;
        zip_error_init_with_code(&error, zipError);
        const std::string reason = zip_error_strerror(&error);
        zip_error_fini(&error);
        throw Error(path + ": truncated or corrupt archive (" + reason + ")");
    }

    bool hasCode = false;
    zip_int64_t dataPickle = -1;
    const zip_int64_t entries = zip_get_num_entries(archive.get(), 0);
    for (zip_int64_t i = 0; i < entries; ++i) {
        const std::string name = zip_get_name(archive.get(), static_cast<zip_uint64_t>(i), 0);
        if (name.find("/code/") != std::string::npos)
            hasCode = true;
        const auto slash = name.find('/');
        if (slash != std::string::npos && name.compare(slash, std::string::npos, "/data.pkl") == 0)
            dataPickle = i;
    }
    if (hasCode)
        return;
    if (dataPickle >= 0) {
        // The pickle names the classes it holds: an OrderedDict of tensors is a state_dict.
        const std::string pickle = readEntry(archive.get(), dataPickle, 1 << 16);
        if (pickle.find("OrderedDict") != std::string::npos && pickle.find("torch.nn.modules") == std::string::npos)
            throwPickle(path, "a state_dict: the weights without the code");
        if (pickle.find("torch.nn.modules") != std::string::npos)
            throwPickle(path, "an eager nn.Module, which needs its Python class to load");
        throwPickle(path, "a state_dict or an eager nn.Module");
    }
    throw Error(path + ": not a TorchScript model (a zip archive without TorchScript code)");
}

} // namespace layerscope::detail
