// The torch.save archive, written as Python's torch.save writes it: archive/data.pkl, archive/data/<key>
// (each storage's raw little-endian bytes, stored), archive/version.

#include "formats/ptwriter_p.h"

#include "layerscope/error.h"

#include <zip.h>

#include <cstdint>
#include <memory>

namespace layerscope::detail {

namespace {

const char* storageClass(DType dtype)
{
    switch (dtype) {
    case DType::Float32: return "FloatStorage";
    case DType::Float64: return "DoubleStorage";
    case DType::Float16: return "HalfStorage";
    case DType::BFloat16: return "BFloat16Storage";
    case DType::Int8: return "CharStorage";
    case DType::Int16: return "ShortStorage";
    case DType::Int32: return "IntStorage";
    case DType::Int64: return "LongStorage";
    case DType::UInt8: return "ByteStorage";
    case DType::Bool: return "BoolStorage";
    }
    return "FloatStorage";
}

template <typename T> void putLE(std::string& out, T value, int bytes)
{
    for (int i = 0; i < bytes; ++i)
        out += char((std::uint64_t(value) >> (8 * i)) & 0xff);
}

// The shortest of BININT1, BININT2, BININT and LONG1, as Python's pickler chooses.
void putInt(std::string& out, std::int64_t value)
{
    if (value >= 0 && value < 256) {
        out += 'K';
        putLE(out, value, 1);
    } else if (value >= 0 && value < 65536) {
        out += 'M';
        putLE(out, value, 2);
    } else if (value >= INT32_MIN && value <= INT32_MAX) {
        out += 'J';
        putLE(out, value, 4);
    } else {
        out += '\x8a';
        out += char(8);
        putLE(out, value, 8);
    }
}

void putString(std::string& out, const std::string& text) // BINUNICODE: the UTF-8 bytes
{
    out += 'X';
    putLE(out, std::uint32_t(text.size()), 4);
    out += text;
}

void putGlobal(std::string& out, const char* module, const char* name)
{
    out += 'c';
    out += module;
    out += '\n';
    out += name;
    out += '\n';
}

std::uint64_t payloadBytes(const StagedArray& array) { return std::uint64_t(array.rows()) * array.rowBytes(); }

} // namespace

std::string pickleTensorDictOf(const std::vector<const StagedArray*>& arrays)
{
    std::string out = "\x80\x02}("; // PROTO 2, EMPTY_DICT, MARK
    for (std::size_t key = 0; key < arrays.size(); ++key) {
        const StagedArray& array = *arrays[key];
        const std::vector<std::int64_t> shape = array.shape();
        std::int64_t elements = 1;
        for (std::int64_t d : shape)
            elements *= d;
        putString(out, array.name());
        putGlobal(out, "torch._utils", "_rebuild_tensor_v2");
        out += "((";
        putString(out, "storage");
        putGlobal(out, "torch", storageClass(array.dtype()));
        putString(out, std::to_string(key));
        putString(out, "cpu");
        putInt(out, elements);
        out += "tQ";    // TUPLE, BINPERSID
        putInt(out, 0); // storage offset
        out += '(';
        for (std::int64_t d : shape)
            putInt(out, d);
        out += "t(";
        std::vector<std::int64_t> strides(shape.size(), 1); // contiguous, in elements
        for (std::size_t d = shape.size(); d-- > 1;)
            strides[d - 1] = strides[d] * std::max<std::int64_t>(1, shape[d]);
        for (std::int64_t s : strides)
            putInt(out, s);
        out += "t\x89"; // TUPLE, NEWFALSE (requires_grad)
        putGlobal(out, "collections", "OrderedDict");
        out += ")RtR"; // backward hooks: OrderedDict(); the arguments; _rebuild_tensor_v2(...)
    }
    out += "u."; // SETITEMS, STOP
    return out;
}

void writePtFile(const std::string& path, const std::vector<const StagedArray*>& arrays)
{
    int code = 0;
    zip_t* archive = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
    if (!archive)
        throw Error(path + ": cannot write (libzip error " + std::to_string(code) + ")");
    auto fail = [&](const std::string& what) {
        const std::string reason = zip_strerror(archive);
        zip_discard(archive);
        throw Error(path + ": cannot write " + what + " (" + reason + ")");
    };
    auto add = [&](const std::string& name, zip_source_t* source) {
        const zip_int64_t index = source ? zip_file_add(archive, name.c_str(), source, ZIP_FL_ENC_UTF_8) : -1;
        if (index < 0) {
            if (source)
                zip_source_free(source);
            fail("'" + name + "'");
        }
        zip_set_file_compression(archive, zip_uint64_t(index), ZIP_CM_STORE, 0);
    };
    // Buffers libzip reads at zip_close(): they live until then.
    const std::string pickle = pickleTensorDictOf(arrays);
    static const char version[] = "3\n";
    add("archive/data.pkl", zip_source_buffer(archive, pickle.data(), pickle.size(), 0));
    for (std::size_t key = 0; key < arrays.size(); ++key) {
        const StagedArray& array = *arrays[key];
        const std::uint64_t bytes = payloadBytes(array);
        // Its rows, after the .npy header; libzip takes a length of 0 as "to the end", so no rows is no file.
        zip_source_t* source = bytes == 0
            ? zip_source_buffer(archive, nullptr, 0, 0)
            : zip_source_file(archive, array.file().c_str(), zip_uint64_t(array.headerLength()), zip_int64_t(bytes));
        add("archive/data/" + std::to_string(key), source);
    }
    add("archive/version", zip_source_buffer(archive, version, 2, 0));
    // libzip writes a temporary file and renames it over `path` only when complete.
    if (zip_close(archive) != 0)
        fail("the archive");
}

} // namespace layerscope::detail
