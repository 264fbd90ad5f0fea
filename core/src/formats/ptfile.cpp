// torch.save's archive: a zip of <prefix>/data.pkl (the pickle), <prefix>/data/<key> (each storage's raw
// little-endian bytes, stored uncompressed) and <prefix>/version, plus <prefix>/byteorder from Python.
// Every size is checked against the archive before it is read: the pickle's storages against their
// entries, each tensor's view against its storage, and what reading takes in memory against the file.

#include "layerscope/ptfile.h"

#include "formats/regularfile_p.h"
#include "formats/tensorpickle_p.h"
#include "formats/zipentry_p.h"
#include "layerscope/error.h"

#include <cstring>
#include <map>
#include <unistd.h>

namespace layerscope {

namespace {

constexpr zip_uint64_t kMaxPickleBytes = zip_uint64_t(16) << 20; // about 75 bytes per tensor

struct Entry {
    zip_uint64_t index, size;
    bool stored; // torch.save stores every entry as it is: what is read must be
};

class PtReader {
public:
    PtReader(zip_t* archive, std::uint64_t archiveSize, const std::string& source)
        : archive_(archive)
        , archiveSize_(archiveSize)
        , source_(source)
    {
    }

    std::vector<NamedTensor> read()
    {
        listEntries();
        const std::vector<detail::PickledTensor> pickled = detail::unpickleTensorDict(
            readEntry(prefix_ + "data.pkl").get(), entries_.at(prefix_ + "data.pkl").size, source_);
        std::vector<NamedTensor> tensors;
        for (detail::PickledTensor tensor : pickled) {
            for (std::size_t d = 0; d < tensor.shape.size(); ++d)
                if (tensor.shape[d] == 1)
                    tensor.stride[d] = 0; // a size-1 axis is never stepped along: its stride is anything
            const std::int64_t elements = checkView(tensor);
            tensors.push_back({tensor.name, materialize(tensor, elements)});
        }
        return tensors;
    }

private:
    [[noreturn]] void fail(const std::string& cause) const
    {
        throw Error(source_ + ": not a torch.save of tensors LayerScope can read: " + cause);
    }

    // Every entry with its sizes; the one <prefix>/data.pkl decides the prefix.
    void listEntries()
    {
        const zip_int64_t count = zip_get_num_entries(archive_, 0);
        for (zip_int64_t i = 0; i < count; ++i) {
            zip_stat_t st;
            zip_stat_init(&st);
            const zip_uint64_t needed = ZIP_STAT_NAME | ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD;
            if (zip_stat_index(archive_, zip_uint64_t(i), ZIP_FL_ENC_RAW, &st) != 0 || (st.valid & needed) != needed)
                fail("archive entry " + std::to_string(i) + " does not declare its name and sizes");
            const std::string name = st.name;
            if (st.comp_size > archiveSize_)
                fail("entry '" + detail::printableName(name) + "' declares " + std::to_string(st.comp_size)
                     + " bytes, more than the whole file (" + std::to_string(archiveSize_) + ")");
            entries_[name] = {zip_uint64_t(i), st.size, st.comp_method == ZIP_CM_STORE && st.size == st.comp_size};
            const std::string pickle = "data.pkl";
            if (name.size() > pickle.size() && name.compare(name.size() - pickle.size(), pickle.size(), pickle) == 0
                && name[name.size() - pickle.size() - 1] == '/' && name.find('/') == name.size() - pickle.size() - 1) {
                if (!prefix_.empty())
                    fail("two pickles ('" + detail::printableName(prefix_) + "data.pkl' and '"
                         + detail::printableName(name) + "')");
                prefix_ = name.substr(0, name.size() - pickle.size());
            }
        }
        if (prefix_.empty())
            fail("no <name>/data.pkl entry: not a torch.save archive");
        if (entries_.at(prefix_ + "data.pkl").size > kMaxPickleBytes)
            fail("its pickle has more than " + std::to_string(kMaxPickleBytes >> 20) + " MiB");
        const auto byteorder = entries_.find(prefix_ + "byteorder");
        if (byteorder != entries_.end()) {
            const std::string order = byteorder->second.size <= 8
                ? std::string(readEntry(byteorder->first).get(), byteorder->second.size)
                : std::string();
            if (order != "little")
                fail("its tensors are not little-endian (byteorder '" + detail::printableName(order) + "')");
        }
    }

    std::unique_ptr<char[]> readEntry(const std::string& name)
    {
        const Entry& entry = entries_.at(name);
        if (!entry.stored)
            fail("entry '" + detail::printableName(name) + "' is compressed; torch.save stores every entry as it is");
        return detail::readZipEntry(archive_, entry.index, entry.size, source_, "torch.save",
                                    detail::printableName(name));
    }

    // The view's element count, once it is known to lie inside its storage, and the storage inside its entry.
    std::int64_t checkView(const detail::PickledTensor& t)
    {
        const std::string what = "tensor '" + detail::printableName(t.name) + "'";
        const auto entry = entries_.find(prefix_ + "data/" + t.storageKey);
        if (entry == entries_.end())
            fail(what + " is in storage '" + detail::printableName(t.storageKey)
                 + "', which the archive does not hold");
        if (!entry->second.stored)
            fail("entry '" + detail::printableName(entry->first)
                 + "' is compressed; torch.save stores every entry as it is");
        const std::uint64_t width = elementSize(t.dtype);
        if (std::uint64_t(t.storageElements) > entry->second.size / width
            || std::uint64_t(t.storageElements) * width != entry->second.size)
            fail(what + ": its storage declares " + std::to_string(t.storageElements) + " elements of "
                 + std::to_string(width) + " bytes, but entry '" + detail::printableName(entry->first) + "' holds "
                 + std::to_string(entry->second.size) + " bytes");
        // numpy's rule: the non-zero sizes multiply to a byte count that fits, even when a zero makes it
        // empty (so that no later product of sizes overflows); and no more elements than the storage.
        std::int64_t elements = 1, bytes = 0;
        bool empty = false;
        for (std::int64_t size : t.shape) {
            empty = empty || size == 0;
            if (size != 0 && __builtin_mul_overflow(elements, size, &elements))
                fail(what + " has more elements than any storage");
        }
        if (__builtin_mul_overflow(elements, std::int64_t(width), &bytes))
            fail(what + " has more elements than any storage");
        if (empty)
            elements = 0;
        if (elements > t.storageElements)
            fail(what + " has more elements than its storage (" + std::to_string(t.storageElements) + ")");
        if (elements == 0)
            return 0;
        // The last element it reaches: offset + sum((size - 1) * stride) < storage elements.
        std::int64_t room = t.storageElements - 1 - t.offset;
        for (std::size_t d = 0; d < t.shape.size() && room >= 0; ++d) {
            if (t.stride[d] != 0 && t.shape[d] - 1 > room / t.stride[d])
                room = -1;
            else
                room -= (t.shape[d] - 1) * t.stride[d];
        }
        if (room < 0)
            fail(what + " reaches beyond the end of its storage");
        return elements;
    }

    // What reading takes in memory: each storage once, and a copy of each strided view (contiguous views
    // share their storage's buffer). No more than the file's size, whatever a crafted archive's entries say.
    void charge(std::uint64_t bytes)
    {
        loaded_ += bytes; // each term is at most the file's size
        if (loaded_ > archiveSize_)
            fail("its storages and strided views need more bytes than the whole file");
    }

    Tensor materialize(const detail::PickledTensor& t, std::int64_t elements)
    {
        auto stored = storages_.find(t.storageKey);
        if (stored == storages_.end()) {
            charge(entries_.at(prefix_ + "data/" + t.storageKey).size);
            std::shared_ptr<const char[]> bytes(readEntry(prefix_ + "data/" + t.storageKey).release());
            stored = storages_.emplace(t.storageKey, std::move(bytes)).first;
        }
        const std::shared_ptr<const char[]>& storage = stored->second;
        const std::size_t width = elementSize(t.dtype);
        bool contiguous = true;
        std::int64_t expected = 1;
        for (std::size_t d = t.shape.size(); d-- > 0;) {
            contiguous = contiguous && (t.shape[d] == 1 || t.stride[d] == expected);
            expected *= t.shape[d];
        }
        if (elements == 0)
            return Tensor::zeros(t.shape, t.dtype);
        if (contiguous) // shares the storage's buffer, from its offset
            return Tensor {t.shape, t.dtype, std::shared_ptr<const void>(storage, storage.get() + t.offset * width)};
        charge(std::uint64_t(elements) * width); // at most the storage's size, itself at most the file's
        Tensor dense = Tensor::zeros(t.shape, t.dtype);
        char* out = static_cast<char*>(dense.mutableData());
        std::vector<std::int64_t> at(t.shape.size(), 0);
        std::int64_t from = t.offset;
        for (std::int64_t i = 0; i < elements; ++i) {
            std::memcpy(out + std::size_t(i) * width, storage.get() + std::size_t(from) * width, width);
            for (std::size_t d = t.shape.size(); d-- > 0;) { // the next index, last axis fastest
                from += t.stride[d];
                if (++at[d] < t.shape[d])
                    break;
                from -= t.stride[d] * t.shape[d];
                at[d] = 0;
            }
        }
        return dense;
    }

    zip_t* archive_;
    std::uint64_t archiveSize_, loaded_ = 0;
    std::string source_, prefix_;
    std::map<std::string, Entry> entries_;
    std::map<std::string, std::shared_ptr<const char[]>> storages_;
};

} // namespace

std::vector<NamedTensor> readPt(const std::string& path)
{
    std::uint64_t archiveSize = 0;
    const int fd = detail::openRegularFile(path, "a .pt file", &archiveSize);
    int code = 0;
    zip_t* raw = zip_fdopen(fd, ZIP_CHECKCONS, &code); // owns fd once it succeeds
    if (!raw) {
        ::close(fd);
        throw Error(path + ": not a torch.save archive (" + detail::zipErrorText(code) + ")");
    }
    detail::ZipHandle archive(raw, &zip_discard);
    return PtReader(archive.get(), archiveSize, path).read();
}

std::vector<NamedTensor> parsePt(const void* bytes, std::size_t size, const std::string& sourceName)
{
    zip_error_t error;
    zip_error_init(&error);
    zip_source_t* source = zip_source_buffer_create(bytes, size, 0, &error);
    zip_t* raw = source ? zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error) : nullptr;
    if (!raw) {
        const std::string cause = zip_error_strerror(&error);
        if (source)
            zip_source_free(source);
        zip_error_fini(&error);
        throw Error(sourceName + ": not a torch.save archive (" + cause + ")");
    }
    zip_error_fini(&error);
    detail::ZipHandle archive(raw, &zip_discard);
    return PtReader(archive.get(), size, sourceName).read();
}

} // namespace layerscope
