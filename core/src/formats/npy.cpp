#include "layerscope/npy.h"

#include "formats/npyrows_p.h"
#include "formats/regularfile_p.h"

#include "formats/atomicfile_p.h"
#include "layerscope/error.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <memory>
#include <new>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>

namespace layerscope {

namespace {

const char kMagic[] = "\x93NUMPY";

// numpy.load refuses headers over 10000 bytes unless told otherwise, and a plain array's header needs under 2 KB:
// the cap bounds the work a crafted header can ask for, and how much of a file is read to find out.
constexpr std::size_t kMaxHeaderLength = 65536;
constexpr std::size_t kMaxPrefixLength = 12; // magic, version, a 4-byte header length
constexpr std::size_t kMaxDimensions = 64;   // numpy 2's NPY_MAXDIMS
constexpr std::size_t kQuotedLength = 32;    // of header text shown in a message

struct Descr {
    DType dtype;
    bool bigEndian;
};

bool parseDescr(const std::string& descr, Descr* out)
{
    if (descr.size() < 3)
        return false;
    const char order = descr[0];
    const std::string kind = descr.substr(1);
    out->bigEndian = order == '>';
    if (order != '<' && order != '>' && order != '|' && order != '=')
        return false;
    static const std::pair<const char*, DType> kinds[] = {
        {"f4", DType::Float32}, {"f8", DType::Float64}, {"f2", DType::Float16},
        {"i1", DType::Int8},    {"i2", DType::Int16},   {"i4", DType::Int32},
        {"i8", DType::Int64},   {"u1", DType::UInt8},   {"b1", DType::Bool},
    };
    for (const auto& [name, dtype] : kinds) {
        if (kind == name) {
            out->dtype = dtype;
            return true;
        }
    }
    return false;
}

const char* descrOf(DType dtype)
{
    switch (dtype) {
    case DType::Float32: return "<f4";
    case DType::Float64: return "<f8";
    case DType::Float16: return "<f2";
    case DType::Int8: return "|i1";
    case DType::Int16: return "<i2";
    case DType::Int32: return "<i4";
    case DType::Int64: return "<i8";
    case DType::UInt8: return "|u1";
    case DType::Bool: return "|b1";
    case DType::BFloat16: break; // numpy has no bfloat16
    }
    throw Error("bfloat16 has no numpy dtype: convert the tensor to float32 first");
}

const char kSupportedDtypes[] = "supported: float16/32/64, int8/16/32/64, uint8, bool";

// Header text as a one-line message can show it: control and non-ASCII bytes escaped, long text cut short.
std::string quote(std::string_view text)
{
    std::string out = "'";
    for (std::size_t i = 0; i < std::min(text.size(), kQuotedLength); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c < 0x7f) {
            out += static_cast<char>(c);
        } else {
            char escaped[5];
            std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
            out += escaped;
        }
    }
    if (text.size() > kQuotedLength)
        return out + "...' (" + std::to_string(text.size()) + " characters)";
    return out + "'";
}

// The shape as the header wrote it: "(3,)", "(2, 3)".
std::string pythonTuple(const std::vector<std::int64_t>& shape)
{
    std::string out = "(";
    for (std::size_t i = 0; i < shape.size(); ++i)
        out += (i > 0 ? ", " : "") + std::to_string(shape[i]);
    return out + (shape.size() == 1 ? ",)" : ")");
}

// numpy's header, which numpy itself reads with ast.literal_eval: a Python dict literal with exactly the keys
// 'descr', 'fortran_order' and 'shape' in any order, strings in single or double quotes, optional trailing
// commas, spaces, and the padding and newline after it. Hand-written rather than a regex: one pass, no
// recursion, so that no header makes it overflow the stack, and a precise message for every rejection.
class HeaderParser {
public:
    HeaderParser(std::string_view text, const std::string& sourceName)
        : text_(text)
        , sourceName_(sourceName)
    {
    }

    void parse(std::string* descr, bool* fortranOrder, std::vector<std::int64_t>* shape)
    {
        static const char* const keys[] = {"descr", "fortran_order", "shape"};
        bool seen[3] = {false, false, false};
        skipSpace();
        if (atEnd() || peek() != '{')
            fail("expected '{', " + found());
        ++position_;
        for (;;) {
            skipSpace();
            if (!atEnd() && peek() == '}') {
                ++position_;
                break;
            }
            if (atEnd() || (peek() != '\'' && peek() != '"'))
                fail("expected a quoted key or '}', " + found());
            const std::string_view key = readString();
            int which = 0;
            while (which < 3 && key != keys[which])
                ++which;
            if (which == 3)
                fail("unexpected key " + quote(key)
                     + " (a .npy header has exactly 'descr', 'fortran_order' and 'shape')");
            if (seen[which])
                fail("key " + quote(key) + " appears twice");
            seen[which] = true;
            skipSpace();
            if (atEnd() || peek() != ':')
                fail("expected ':' after " + quote(key) + ", " + found());
            ++position_;
            skipSpace();
            if (which == 0)
                *descr = readDescr();
            else if (which == 1)
                *fortranOrder = readBool();
            else
                *shape = readShape();
            skipSpace();
            if (!atEnd() && peek() == ',') {
                ++position_;
                continue;
            }
            if (!atEnd() && peek() == '}') {
                ++position_;
                break;
            }
            fail("expected ',' or '}' after the value of " + quote(key) + ", " + found());
        }
        skipSpace();
        if (!atEnd())
            fail("unexpected " + quote(text_.substr(position_, 1)) + " after the dict");
        for (int which = 0; which < 3; ++which) {
            if (!seen[which])
                fail(std::string("no '") + keys[which] + "' key");
        }
    }

private:
    [[noreturn]] void fail(const std::string& cause) const
    {
        throw Error(sourceName_ + ": malformed .npy header: " + cause);
    }

    bool atEnd() const { return position_ >= text_.size(); }
    char peek() const { return text_[position_]; }
    static bool isDigit(char c) { return c >= '0' && c <= '9'; }

    // Python's white space between tokens; inside the braces that includes newlines.
    void skipSpace()
    {
        while (!atEnd() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r' || peek() == '\f'))
            ++position_;
    }

    std::string found() const
    {
        return atEnd() ? "found the end of the header" : "found " + quote(text_.substr(position_, 1));
    }

    // A string literal without escapes (no key or dtype numpy writes has one); the caller saw its quote.
    std::string_view readString()
    {
        const char quoteMark = peek();
        const std::size_t start = ++position_;
        while (!atEnd() && peek() != quoteMark) {
            if (peek() == '\n' || peek() == '\r')
                fail("unterminated string " + quote(text_.substr(start, position_ - start)));
            if (peek() == '\\')
                fail("a backslash after " + quote(text_.substr(start, position_ - start))
                     + " (escape sequences are not supported)");
            ++position_;
        }
        if (atEnd())
            fail("unterminated string " + quote(text_.substr(start)));
        return text_.substr(start, position_++ - start);
    }

    std::string readDescr()
    {
        if (!atEnd() && peek() == '[')
            throw Error(sourceName_ + ": unsupported dtype (structured arrays, with named fields, are not supported; "
                        + kSupportedDtypes + ")");
        if (atEnd() || (peek() != '\'' && peek() != '"'))
            fail("'descr' must be a quoted dtype such as '<f4', " + found());
        return std::string(readString());
    }

    bool readBool()
    {
        const std::size_t start = position_;
        while (!atEnd() && (std::isalnum(static_cast<unsigned char>(peek())) || peek() == '_'))
            ++position_;
        const std::string_view word = text_.substr(start, position_ - start);
        if (word == "True" || word == "False")
            return word == "True";
        fail("'fortran_order' must be True or False, found "
             + quote(word.empty() ? text_.substr(start, atEnd() ? 0 : 1) : word));
    }

    std::vector<std::int64_t> readShape()
    {
        if (atEnd() || peek() != '(')
            fail("'shape' must be a tuple, " + found());
        ++position_;
        std::vector<std::int64_t> shape;
        bool comma = false;
        skipSpace();
        if (!atEnd() && peek() == ')') {
            ++position_;
            return shape;
        }
        for (;;) {
            if (shape.size() == kMaxDimensions)
                fail("the shape has more than " + std::to_string(kMaxDimensions) + " dimensions");
            shape.push_back(readDimension());
            skipSpace();
            if (!atEnd() && peek() == ',') {
                ++position_;
                comma = true;
                skipSpace();
                if (!atEnd() && peek() == ')') {
                    ++position_;
                    return shape;
                }
                continue;
            }
            if (!atEnd() && peek() == ')') {
                ++position_;
                if (!comma) // Python's (3) is the number 3; numpy writes (3,)
                    fail("the shape (" + std::to_string(shape[0]) + ") is not a tuple");
                return shape;
            }
            fail("expected ',' or ')' in the shape, " + found());
        }
    }

    // A non-negative decimal integer that fits in int64, as numpy writes one: no sign, no leading zero.
    std::int64_t readDimension()
    {
        const std::size_t start = position_;
        const bool signed_ = !atEnd() && (peek() == '-' || peek() == '+');
        if (signed_)
            ++position_;
        if (atEnd() || !isDigit(peek())) {
            position_ = start;
            fail("expected a dimension in the shape, " + found());
        }
        std::int64_t value = 0;
        bool tooLarge = false;
        while (!atEnd() && isDigit(peek())) {
            tooLarge = tooLarge || __builtin_mul_overflow(value, 10, &value)
                || __builtin_add_overflow(value, peek() - '0', &value);
            ++position_;
        }
        const std::string_view token = text_.substr(start, position_ - start);
        if (signed_)
            fail("dimension " + quote(token) + (token[0] == '-' ? " is negative" : " has a sign"));
        if (token.size() > 1 && token[0] == '0')
            fail("dimension " + quote(token) + " has a leading zero");
        if (tooLarge)
            fail("dimension " + quote(token) + " is too large");
        return value;
    }

    std::string_view text_;
    const std::string& sourceName_;
    std::size_t position_ = 0;
};

// What the header says, checked: the payload it promises is within the file.
struct Header {
    Descr descr;
    bool fortranOrder = false;
    std::vector<std::int64_t> shape;
    std::size_t payloadOffset = 0;
    std::size_t payloadBytes = 0;
};

// `size` bytes are at hand, of a file of `fileSize` bytes (readNpy reads the header before the payload).
Header parseHeader(const char* data, std::size_t size, std::uint64_t fileSize, const std::string& sourceName)
{
    auto fail = [&](const std::string& cause) -> Error { return Error(sourceName + ": " + cause); };
    if (size < 6 || std::memcmp(data, kMagic, 6) != 0)
        throw fail("not a .npy file (no NUMPY magic; save arrays with numpy.save)");
    if (size < 10)
        throw fail("truncated .npy header");
    const int major = static_cast<unsigned char>(data[6]);
    std::size_t headerLength = 0, headerStart = 0;
    if (major == 1) {
        headerLength = static_cast<unsigned char>(data[8]) | static_cast<unsigned char>(data[9]) << 8;
        headerStart = 10;
    } else if (major == 2 || major == 3) {
        if (size < 12)
            throw fail("truncated .npy header");
        for (int i = 3; i >= 0; --i)
            headerLength = headerLength << 8 | static_cast<unsigned char>(data[8 + i]);
        headerStart = 12;
    } else {
        throw fail("unsupported .npy format version " + std::to_string(major));
    }
    if (headerLength > kMaxHeaderLength)
        throw fail("malformed .npy header: it is " + std::to_string(headerLength) + " bytes long, more than the "
                   + std::to_string(kMaxHeaderLength) + " accepted");
    if (headerStart + headerLength > size)
        throw fail("truncated .npy header");

    Header header;
    std::string descr;
    HeaderParser(std::string_view(data + headerStart, headerLength), sourceName)
        .parse(&descr, &header.fortranOrder, &header.shape);
    if (!parseDescr(descr, &header.descr))
        throw fail("unsupported dtype " + quote(descr) + " (" + kSupportedDtypes + ")");

    // numpy's own rule: the product of the non-zero dimensions and the element size must fit, even when a zero
    // dimension makes the array empty. Every partial product then fits too (Tensor::numel, strides).
    const DType dtype = header.descr.dtype;
    auto tooLarge = [&](const char* what) {
        return fail("the header's shape " + pythonTuple(header.shape) + " of " + dtypeName(dtype)
                    + " is larger than any file (" + what + " overflows)");
    };
    std::int64_t count = 1, bytes = 0;
    bool empty = false;
    for (const std::int64_t d : header.shape) {
        empty = empty || d == 0;
        if (d != 0 && __builtin_mul_overflow(count, d, &count))
            throw tooLarge("element count");
    }
    if (__builtin_mul_overflow(count, static_cast<std::int64_t>(elementSize(dtype)), &bytes))
        throw tooLarge("byte count");
    if (empty)
        bytes = 0;

    header.payloadOffset = headerStart + headerLength;
    const std::uint64_t follow = fileSize - header.payloadOffset;
    if (static_cast<std::uint64_t>(bytes) > follow)
        throw fail("truncated: the header promises " + shapeToString(header.shape) + " " + dtypeName(dtype) + " ("
                   + std::to_string(bytes) + " bytes) but " + std::to_string(follow) + " follow");
    header.payloadBytes = static_cast<std::size_t>(bytes);
    return header;
}

// The payload's bytes are all in the file: only then is memory taken for them.
Tensor allocate(const Header& header, const std::string& sourceName)
{
    try {
        return Tensor::zeros(header.shape, header.descr.dtype);
    } catch (const std::bad_alloc&) {
        throw Error(sourceName + ": not enough memory for " + shapeToString(header.shape) + " "
                    + dtypeName(header.descr.dtype) + " (" + std::to_string(header.payloadBytes) + " bytes)");
    }
}

void byteSwap(char* data, std::size_t count, std::size_t width)
{
    for (std::size_t i = 0; i < count; ++i)
        std::reverse(data + i * width, data + (i + 1) * width);
}

// Fortran order is C order of the reversed shape: transpose into C order.
void fortranToC(const char* from, char* to, const std::vector<std::int64_t>& shape, std::size_t width)
{
    const std::size_t dims = shape.size();
    std::vector<std::int64_t> fortranStride(dims, 1), index(dims, 0);
    for (std::size_t d = 1; d < dims; ++d)
        fortranStride[d] = fortranStride[d - 1] * shape[d - 1];
    std::int64_t total = 1;
    for (auto s : shape)
        total *= s;
    for (std::int64_t i = 0; i < total; ++i) {
        std::int64_t offset = 0;
        for (std::size_t d = 0; d < dims; ++d)
            offset += index[d] * fortranStride[d];
        std::memcpy(to + i * width, from + offset * width, width);
        for (std::size_t d = dims; d-- > 0;) {
            if (++index[d] < shape[d])
                break;
            index[d] = 0;
        }
    }
}

bool needsTranspose(const Header& header) { return header.fortranOrder && header.shape.size() > 1; }

// The payload as read (`raw`, which may be `target` when no transpose is needed) into C order and native byte order.
void toNative(const Header& header, const char* raw, char* target)
{
    const std::size_t width = elementSize(header.descr.dtype);
    if (needsTranspose(header))
        fortranToC(raw, target, header.shape, width);
    else if (raw != target)
        std::memcpy(target, raw, header.payloadBytes);
    if (header.descr.bigEndian && width > 1)
        byteSwap(target, header.payloadBytes / width, width);
}

const char* kindOfFile(mode_t mode)
{
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    return "not a file";
}

struct FileCloser {
    int fd;
    ~FileCloser() { ::close(fd); }
};

// Exactly `size` bytes at `offset`: the size fstat gave, never "until the end", which a growing file moves.
void readExactly(int fd, char* to, std::size_t size, std::uint64_t offset, const std::string& path)
{
    std::size_t done = 0;
    while (done < size) {
        const ssize_t n = ::pread(fd, to + done, size - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw Error(path + ": cannot be read (" + std::strerror(errno) + ")");
        if (n == 0)
            throw Error(path + ": cannot be read (it became shorter while being read)");
        done += static_cast<std::size_t>(n);
    }
}

} // namespace

namespace detail {

int openRegularFile(const std::string& path, const char* what, std::uint64_t* size)
{
    // stat first, following symlinks: opening a FIFO blocks until a writer comes, and opening some devices acts.
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
        if (errno == ENOENT)
            throw Error(path + ": no such file");
        throw Error(path + ": cannot be read (" + std::strerror(errno) + ")");
    }
    if (S_ISDIR(st.st_mode))
        throw Error(path + ": is a folder, not " + what);
    if (!S_ISREG(st.st_mode))
        throw Error(path + ": not a regular file (" + kindOfFile(st.st_mode) + ")");
    // O_NONBLOCK and fstat again: the path may have been replaced by a FIFO or a device since the stat.
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        throw Error(path + ": cannot be read (" + std::strerror(errno) + ")");
    if (::fstat(fd, &st) != 0) {
        const int error = errno;
        ::close(fd);
        throw Error(path + ": cannot be read (" + std::strerror(error) + ")");
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        throw Error(path + ": not a regular file (" + kindOfFile(st.st_mode) + ")");
    }
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    *size = static_cast<std::uint64_t>(st.st_size);
    return fd;
}

} // namespace detail

Tensor parseNpy(const void* bytes, std::size_t size, const std::string& sourceName)
{
    const char* data = static_cast<const char*>(bytes);
    const Header header = parseHeader(data, size, size, sourceName);
    Tensor tensor = allocate(header, sourceName);
    toNative(header, data + header.payloadOffset, static_cast<char*>(tensor.mutableData()));
    return tensor;
}

namespace {

// The header of the file open as `fd`, read before anything else and checked against the file's size.
Header readHeader(int fd, std::uint64_t fileSize, const std::string& path)
{
    std::string prefix(static_cast<std::size_t>(std::min<std::uint64_t>(fileSize, kMaxPrefixLength + kMaxHeaderLength)),
                       '\0');
    readExactly(fd, prefix.data(), prefix.size(), 0, path);
    return parseHeader(prefix.data(), prefix.size(), fileSize, path);
}

} // namespace

Tensor readNpy(const std::string& path)
{
    std::uint64_t fileSize = 0;
    const FileCloser file {detail::openRegularFile(path, "a .npy file", &fileSize)};
    // The header first, so that a header's claims are checked against the file's size before any allocation;
    // then the payload straight into the tensor.
    const Header header = readHeader(file.fd, fileSize, path);
    Tensor tensor = allocate(header, path);
    char* target = static_cast<char*>(tensor.mutableData());
    if (needsTranspose(header)) {
        std::unique_ptr<char[]> raw(new (std::nothrow) char[header.payloadBytes]);
        if (!raw)
            throw Error(path + ": not enough memory to read " + std::to_string(header.payloadBytes) + " bytes");
        readExactly(file.fd, raw.get(), header.payloadBytes, header.payloadOffset, path);
        toNative(header, raw.get(), target);
    } else {
        readExactly(file.fd, target, header.payloadBytes, header.payloadOffset, path);
        toNative(header, target, target);
    }
    return tensor;
}

std::string npyHeader(const std::vector<std::int64_t>& shape, DType dtype, std::size_t totalLength)
{
    std::string dict = std::string("{'descr': '") + descrOf(dtype) + "', 'fortran_order': False, 'shape': (";
    for (std::size_t i = 0; i < shape.size(); ++i)
        dict += std::to_string(shape[i]) + (shape.size() == 1 || i + 1 < shape.size() ? "," : "")
            + (i + 1 < shape.size() ? " " : "");
    dict += "), }";
    // Version 1.0 while the header fits in 16 bits, as numpy does; the total is a multiple of 64.
    const bool version1 = dict.size() + 1 + 10 < 65536;
    const std::size_t prefix = version1 ? 10 : 12;
    std::size_t total = (prefix + dict.size() + 1 + 63) / 64 * 64;
    if (totalLength > 0) {
        if (totalLength < prefix + dict.size() + 1)
            throw Error("internal: .npy header longer than the space reserved for it");
        total = totalLength;
    }
    dict.append(total - prefix - dict.size() - 1, ' ');
    dict += '\n';
    std::string header(kMagic, 6);
    header += static_cast<char>(version1 ? 1 : 2);
    header += '\0';
    const std::size_t length = dict.size();
    for (std::size_t i = 0; i < (version1 ? 2u : 4u); ++i)
        header += static_cast<char>((length >> (8 * i)) & 0xff);
    return header + dict;
}

void writeNpy(const std::string& path, const Tensor& tensor)
{
    const std::string header = npyHeader(tensor);
    detail::AtomicFile file(path);
    file.write(header.data(), header.size());
    file.write(tensor.data.get(), tensor.nbytes());
    file.commit();
}

void checkWritable(const std::string& path)
{
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path target(path);
    if (fs::is_directory(target, ec))
        throw Error(path + ": is a folder; give a file name");
    const fs::path folder = target.parent_path().empty() ? fs::path(".") : target.parent_path();
    if (!fs::exists(folder, ec))
        throw Error(path + ": cannot write (folder " + folder.string() + " does not exist)");
    if (!fs::is_directory(folder, ec))
        throw Error(path + ": cannot write (" + folder.string() + " is not a folder)");
    if (::access(folder.c_str(), W_OK) != 0)
        throw Error(path + ": cannot write (" + std::strerror(errno) + ")");
    if (fs::exists(target, ec) && ::access(target.c_str(), W_OK) != 0 && ::geteuid() != 0)
        throw Error(path + ": cannot write (" + std::strerror(errno) + ")");
}

} // namespace layerscope

namespace layerscope::detail {

NpyRowFile::NpyRowFile(const std::string& path)
    : path_(path)
{
    std::uint64_t fileSize = 0;
    fd_ = openRegularFile(path, "a .npy file", &fileSize);
    try {
        const Header header = readHeader(fd_, fileSize, path);
        if (header.shape.empty())
            throw Error(path + ": a 0-d array, not rows");
        if (needsTranspose(header))
            throw Error(path + ": Fortran order, whose rows are not contiguous");
        shape_ = header.shape;
        dtype_ = header.descr.dtype;
        bigEndian_ = header.descr.bigEndian;
        payloadOffset_ = header.payloadOffset;
        rowBytes_ = shape_.front() > 0 ? header.payloadBytes / std::size_t(shape_.front()) : 0;
        if (rowBytes_ == 0) { // no rows, or rows of nothing: the size of one from the shape
            rowBytes_ = elementSize(dtype_);
            for (std::size_t d = 1; d < shape_.size(); ++d)
                rowBytes_ *= std::size_t(shape_[d]);
        }
    } catch (...) {
        ::close(fd_);
        throw;
    }
}

NpyRowFile::~NpyRowFile() { ::close(fd_); }

void NpyRowFile::readRows(std::int64_t first, std::int64_t count, char* out) const
{
    if (first < 0 || count < 0 || first > rows() - count)
        throw Error(path_ + ": rows " + std::to_string(first) + " to " + std::to_string(first + count) + " of "
                    + std::to_string(rows()) + " asked for");
    const std::size_t bytes = std::size_t(count) * rowBytes_;
    readExactly(fd_, out, bytes, payloadOffset_ + std::size_t(first) * rowBytes_, path_);
    const std::size_t width = elementSize(dtype_);
    if (bigEndian_ && width > 1)
        byteSwap(out, bytes / width, width);
}

bool NpyRowFile::isFortranOrder(const std::string& path)
{
    std::uint64_t fileSize = 0;
    const FileCloser file {openRegularFile(path, "a .npy file", &fileSize)};
    return needsTranspose(readHeader(file.fd, fileSize, path));
}

} // namespace layerscope::detail
