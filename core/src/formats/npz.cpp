#include "layerscope/npy.h"

#include "formats/regularfile_p.h"
#include "formats/zipentry_p.h"

#include "layerscope/error.h"

#include <zip.h>

#include <cstring>
#include <limits>
#include <memory>
#include <unistd.h>

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
        case ZIP_SOURCE_OPEN: self->position = 0; return 0;
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
        case ZIP_SOURCE_CLOSE: return 0;
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
        case ZIP_SOURCE_ERROR: return zip_error_to_data(&self->error, data, length);
        case ZIP_SOURCE_FREE:
            zip_error_fini(&self->error);
            delete self;
            return 0;
        case ZIP_SOURCE_SUPPORTS:
            return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE, ZIP_SOURCE_STAT,
                                                  ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE, -1);
        default: zip_error_set(&self->error, ZIP_ER_OPNOTSUPP, 0); return -1;
        }
    }
};

// Deflate's largest expansion: a 258-byte match coded in 2 bits, about 1032:1 (zlib's technical notes).
constexpr zip_uint64_t kDeflateMaxRatio = 1033;

// The most a reader could hold at once; declared contents beyond it are a lie or unreadable here.
std::uint64_t physicalMemory()
{
    const long pages = ::sysconf(_SC_PHYS_PAGES), pageSize = ::sysconf(_SC_PAGESIZE);
    if (pages <= 0 || pageSize <= 0)
        return std::numeric_limits<std::uint64_t>::max();
    return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(pageSize);
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
        throw Error(path + ": cannot write (" + detail::zipErrorText(code) + ")");
    detail::ZipHandle archive(raw, &zip_discard);

    for (const auto& [name, tensor] : tensors) {
        auto* state = new NpyEntrySource {npyHeader(tensor), tensor, 0, {}};
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
    std::uint64_t archiveSize = 0;
    const int fd = detail::openRegularFile(path, "a .npz file", &archiveSize);
    int code = 0;
    zip_t* raw = zip_fdopen(fd, 0, &code); // owns fd once it succeeds
    if (!raw) {
        ::close(fd);
        throw Error(path + ": not a readable .npz file (" + detail::zipErrorText(code) + ")");
    }
    detail::ZipHandle archive(raw, &zip_discard);

    // Every entry's declared size is checked before anything is read: a few hundred crafted bytes can declare
    // gigabytes, and the sizes decide what is allocated.
    struct Entry {
        zip_uint64_t index;
        std::string name;
        zip_uint64_t size;
    };
    std::vector<Entry> entries;
    const std::uint64_t memory = physicalMemory();
    std::uint64_t total = 0;
    const zip_int64_t count = zip_get_num_entries(archive.get(), 0);
    for (zip_int64_t i = 0; i < count; ++i) {
        zip_stat_t st;
        if (zip_stat_index(archive.get(), static_cast<zip_uint64_t>(i), 0, &st) != 0)
            throw Error(path + ": corrupt .npz (" + zip_strerror(archive.get()) + ")");
        const std::string name = (st.valid & ZIP_STAT_NAME) ? st.name : "";
        if (name.size() < 4 || name.compare(name.size() - 4, 4, ".npy") != 0)
            continue;
        const auto fail = [&](const std::string& cause) { return Error(path + ": entry '" + name + "' " + cause); };
        const zip_uint64_t needed = ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD;
        if ((st.valid & needed) != needed)
            throw fail("does not declare its size");
        const bool stored = st.comp_method == ZIP_CM_STORE;
        if (!stored && st.comp_method != ZIP_CM_DEFLATE)
            throw fail("is compressed with method " + std::to_string(st.comp_method)
                       + "; .npz files hold stored or deflated entries (numpy.savez, numpy.savez_compressed)");
        if (stored && st.size != st.comp_size)
            throw fail("is stored (not compressed) but declares " + std::to_string(st.size) + " bytes in "
                       + std::to_string(st.comp_size));
        if (st.comp_size > archiveSize)
            throw fail("declares " + std::to_string(st.comp_size) + (stored ? " bytes" : " compressed bytes")
                       + ", more than the whole archive (" + std::to_string(archiveSize) + " bytes)");
        // A little slack over the ratio for the block headers of tiny streams.
        if (!stored && st.size > (st.comp_size + 64) * kDeflateMaxRatio)
            throw fail("declares " + std::to_string(st.size) + " bytes, more than deflate makes of "
                       + std::to_string(st.comp_size) + " (at most about " + std::to_string(kDeflateMaxRatio - 1)
                       + " times as many)");
        total += st.size;
        if (total > memory)
            throw fail("brings the archive's declared contents to " + std::to_string(total)
                       + " bytes, more than this computer's memory (" + std::to_string(memory) + " bytes)");
        entries.push_back({static_cast<zip_uint64_t>(i), name, st.size});
    }

    std::vector<NamedTensor> result;
    for (const Entry& entry : entries) {
        const auto bytes = detail::readZipEntry(archive.get(), entry.index, entry.size, path, ".npz", entry.name);
        const std::string name = entry.name.substr(0, entry.name.size() - 4);
        result.push_back({name, parseNpy(bytes.get(), entry.size, path + "[" + name + "]")});
    }
    return result;
}

} // namespace layerscope
