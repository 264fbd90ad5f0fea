#include "layerscope/npy.h"

#include "atomicfile_p.h"
#include "layerscope/error.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <unistd.h>

namespace layerscope {

namespace {

const char kMagic[] = "\x93NUMPY";

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
        {"f4", DType::Float32}, {"f8", DType::Float64}, {"f2", DType::Float16}, {"i1", DType::Int8},
        {"i2", DType::Int16},   {"i4", DType::Int32},   {"i8", DType::Int64},   {"u1", DType::UInt8},
        {"b1", DType::Bool},
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

std::string readWholeFile(const std::string& path)
{
    std::error_code ec;
    if (!std::filesystem::exists(path, ec))
        throw Error(path + ": no such file");
    if (std::filesystem::is_directory(path, ec))
        throw Error(path + ": is a folder, not a .npy file");
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(path + ": cannot be read (" + std::strerror(errno) + ")");
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

} // namespace

Tensor parseNpy(const void* bytes, std::size_t size, const std::string& sourceName)
{
    const char* data = static_cast<const char*>(bytes);
    auto fail = [&](const std::string& cause) -> Error { return Error(sourceName + ": " + cause); };
    if (size < 10 || std::memcmp(data, kMagic, 6) != 0)
        throw fail("not a .npy file (no NUMPY magic; save arrays with numpy.save)");
    const int major = static_cast<unsigned char>(data[6]);
    std::size_t headerLength = 0, headerStart = 0;
    if (major == 1) {
        headerLength = static_cast<unsigned char>(data[8]) | static_cast<unsigned char>(data[9]) << 8;
        headerStart = 10;
    } else if (major == 2 || major == 3) {
        if (size < 12)
            throw fail("truncated .npy header");
        headerLength = 0;
        for (int i = 3; i >= 0; --i)
            headerLength = headerLength << 8 | static_cast<unsigned char>(data[8 + i]);
        headerStart = 12;
    } else {
        throw fail("unsupported .npy format version " + std::to_string(major));
    }
    if (headerStart + headerLength > size)
        throw fail("truncated .npy header");
    const std::string header(data + headerStart, headerLength);

    static const std::regex descrPattern(R"('descr'\s*:\s*'([^']*)')");
    static const std::regex fortranPattern(R"('fortran_order'\s*:\s*(True|False))");
    static const std::regex shapePattern(R"('shape'\s*:\s*\(([^)]*)\))");
    std::smatch descrMatch, fortranMatch, shapeMatch;
    if (!std::regex_search(header, descrMatch, descrPattern) || !std::regex_search(header, fortranMatch, fortranPattern)
        || !std::regex_search(header, shapeMatch, shapePattern))
        throw fail("malformed .npy header: " + header.substr(0, 120));
    Descr descr;
    if (!parseDescr(descrMatch[1], &descr))
        throw fail("unsupported dtype '" + std::string(descrMatch[1])
                   + "' (supported: float16/32/64, int8/16/32/64, uint8, bool)");

    std::vector<std::int64_t> shape;
    const std::string dims = shapeMatch[1];
    static const std::regex number(R"(\d+)");
    for (auto it = std::sregex_iterator(dims.begin(), dims.end(), number); it != std::sregex_iterator(); ++it)
        shape.push_back(std::stoll(it->str()));

    Tensor tensor = Tensor::zeros(shape, descr.dtype);
    const std::size_t payload = tensor.nbytes();
    const std::size_t offset = headerStart + headerLength;
    if (size - offset < payload)
        throw fail("truncated: the header promises " + shapeToString(shape) + " " + dtypeName(descr.dtype) + " ("
                   + std::to_string(payload) + " bytes) but " + std::to_string(size - offset) + " follow");
    char* target = static_cast<char*>(tensor.mutableData());
    const std::size_t width = elementSize(descr.dtype);
    if (fortranMatch[1] == "True" && shape.size() > 1)
        fortranToC(data + offset, target, shape, width);
    else
        std::memcpy(target, data + offset, payload);
    if (descr.bigEndian && width > 1)
        byteSwap(target, static_cast<std::size_t>(tensor.numel()), width);
    return tensor;
}

Tensor readNpy(const std::string& path)
{
    const std::string bytes = readWholeFile(path);
    return parseNpy(bytes.data(), bytes.size(), path);
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
