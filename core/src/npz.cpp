#include "layerscope/npy.h"

#include "layerscope/error.h"

#include <zip.h>

#include <cstring>
#include <filesystem>
#include <memory>

namespace layerscope {

namespace {

// A libzip source that serves a .npy header followed by the tensor's own buffer, so that writing an
// .npz copies no activation.
struct NpyEntrySource {
    std::string header;
    Tensor tensor;
    zip_uint64_t position = 0;
    zip_error_t error;

    zip_uint64_t size() const { return header.size() + tensor.nbytes(); }

    static zip_int64_t callback(void* state, void* data, zip_uint64_t length, zip_source_cmd_t command)
    {
        auto* self = static_cast<NpyEntrySource*>(state);
        switch (command) {
        case ZIP_SOURCE_OPEN:
            self->position = 0;
            return 0;
        case ZIP_SOURCE_READ: {
            const zip_uint64_t total = self->size();
            const zip_uint64_t n = std::min(length, total - self->position);
            char* out = static_cast<char*>(data);
            zip_uint64_t done = 0;
            while (done < n) {
                const zip_uint64_t at = self->position + done;
                if (at < self->header.size()) {
                    const auto chunk = std::min<zip_uint64_t>(n - done, self->header.size() - at);
                    std::memcpy(out + done, self->header.data() + at, chunk);
                    done += chunk;
                } else {
                    const auto from = at - self->header.size();
                    std::memcpy(out + done, static_cast<const char*>(self->tensor.data.get()) + from, n - done);
                    done = n;
                }
            }
            self->position += n;
            return static_cast<zip_int64_t>(n);
        }
        case ZIP_SOURCE_CLOSE:
            return 0;
        case ZIP_SOURCE_STAT: {
            auto* st = static_cast<zip_stat_t*>(data);
            zip_stat_init(st);
            st->size = self->size();
            st->comp_size = self->size();
            st->comp_method = ZIP_CM_STORE;
            st->encryption_method = ZIP_EM_NONE;
            st->valid = ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD | ZIP_STAT_ENCRYPTION_METHOD;
            return sizeof(zip_stat_t);
        }
        case ZIP_SOURCE_ERROR:
            return zip_error_to_data(&self->error, data, length);
        case ZIP_SOURCE_FREE:
            zip_error_fini(&self->error);
            delete self;
            return 0;
        case ZIP_SOURCE_SUPPORTS:
            return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE,
                                                  ZIP_SOURCE_STAT, ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE, -1);
        default:
            zip_error_set(&self->error, ZIP_ER_OPNOTSUPP, 0);
            return -1;
        }
    }
};

using ZipHandle = std::unique_ptr<zip_t, decltype(&zip_discard)>;

std::string zipErrorText(int code)
{
    zip_error_t error;
    zip_error_init_with_code(&error, code);
    std::string text = zip_error_strerror(&error);
    zip_error_fini(&error);
    return text;
}

} // namespace

void writeNpz(const std::string& path, const std::vector<NamedTensor>& tensors)
{
    checkWritable(path);
    // libzip builds the archive under a temporary name in the same folder and renames it over `path`
    // only in a successful zip_close: a failure leaves no partial file under the final name.
    int code = 0;
    zip_t* raw = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
    if (!raw)
        throw Error(path + ": cannot write (" + zipErrorText(code) + ")");
    ZipHandle archive(raw, &zip_discard);

    for (const auto& [name, tensor] : tensors) {
        auto* state = new NpyEntrySource{npyHeader(tensor), tensor, 0, {}};
        zip_error_init(&state->error);
        zip_error_t error;
        zip_error_init(&error);
        zip_source_t* source = zip_source_function_create(&NpyEntrySource::callback, state, &error);
        zip_error_fini(&error);
        if (!source) {
            zip_error_fini(&state->error);
            delete state;
            throw Error(path + ": cannot write (out of memory)");
        }
        const zip_int64_t index = zip_file_add(archive.get(), (name + ".npy").c_str(), source, ZIP_FL_ENC_UTF_8);
        if (index < 0) {
            zip_source_free(source);
            throw Error(path + ": cannot add '" + name + "' (" + zip_strerror(archive.get()) + ")");
        }
        zip_set_file_compression(archive.get(), static_cast<zip_uint64_t>(index), ZIP_CM_STORE, 0);
    }
    if (zip_close(archive.get()) != 0)
        throw Error(path + ": cannot write (" + zip_strerror(archive.get()) + ")");
    archive.release();
}

std::vector<NamedTensor> readNpz(const std::string& path)
{
    std::error_code ec;
    if (!std::filesystem::exists(path, ec))
        throw Error(path + ": no such file");
    int code = 0;
    zip_t* raw = zip_open(path.c_str(), ZIP_RDONLY, &code);
    if (!raw)
        throw Error(path + ": not a readable .npz file (" + zipErrorText(code) + ")");
    ZipHandle archive(raw, &zip_discard);

    std::vector<NamedTensor> result;
    const zip_int64_t entries = zip_get_num_entries(archive.get(), 0);
    for (zip_int64_t i = 0; i < entries; ++i) {
        zip_stat_t st;
        if (zip_stat_index(archive.get(), static_cast<zip_uint64_t>(i), 0, &st) != 0)
            throw Error(path + ": corrupt .npz (" + zip_strerror(archive.get()) + ")");
        std::string name = st.name;
        if (name.size() < 4 || name.compare(name.size() - 4, 4, ".npy") != 0)
            continue;
        std::string bytes(st.size, '\0');
        zip_file_t* file = zip_fopen_index(archive.get(), static_cast<zip_uint64_t>(i), 0);
        const zip_int64_t n = file ? zip_fread(file, bytes.data(), st.size) : -1;
        if (file)
            zip_fclose(file);
        if (n != static_cast<zip_int64_t>(st.size))
            throw Error(path + ": corrupt .npz entry '" + name + "'");
        name.resize(name.size() - 4);
        result.push_back({name, parseNpy(bytes.data(), bytes.size(), path + "[" + name + "]")});
    }
    return result;
}

} // namespace layerscope
