#include "formats/hdf5file_p.h"

#include "layerscope/error.h"

#include <hdf5.h>

#include <algorithm>
#include <fstream>
#include <memory>

namespace layerscope::detail {

namespace {

// An HDF5 handle closed by its own function when it goes out of scope.
class Handle {
public:
    Handle(hid_t id, herr_t (*close)(hid_t), const std::string& what)
        : id_(id)
        , close_(close)
    {
        if (id_ < 0)
            throw Error(what);
    }
    ~Handle()
    {
        if (id_ >= 0)
            close_(id_);
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    operator hid_t() const { return id_; }

private:
    hid_t id_;
    herr_t (*close_)(hid_t);
};

// A type for each dtype, as h5py maps numpy's (float16: IEEE half; bool: stored as uint8).
hid_t fileType(DType dtype, const std::string& path, const std::string& name)
{
    switch (dtype) {
    case DType::Float32: return H5Tcopy(H5T_IEEE_F32LE);
    case DType::Float64: return H5Tcopy(H5T_IEEE_F64LE);
    case DType::Float16: {
        const hid_t half = H5Tcopy(H5T_IEEE_F32LE);
        H5Tset_fields(half, 15, 10, 5, 0, 10);
        H5Tset_size(half, 2);
        H5Tset_ebias(half, 15);
        return half;
    }
    case DType::Int8: return H5Tcopy(H5T_STD_I8LE);
    case DType::Int16: return H5Tcopy(H5T_STD_I16LE);
    case DType::Int32: return H5Tcopy(H5T_STD_I32LE);
    case DType::Int64: return H5Tcopy(H5T_STD_I64LE);
    case DType::UInt8:
    case DType::Bool: return H5Tcopy(H5T_STD_U8LE);
    case DType::BFloat16: break;
    }
    throw Error(path + ": '" + name + "' is " + dtypeName(dtype) + ", which HDF5 (and numpy) cannot hold");
}

void writeArray(hid_t file, const StagedArray& array, const std::string& path, int compression)
{
    const std::vector<std::int64_t> shape = array.shape();
    std::vector<hsize_t> dims(shape.begin(), shape.end()), maxDims = dims;
    if (dims.empty())
        dims = maxDims = {1};
    maxDims[0] = H5S_UNLIMITED; // rows can be appended later
    const std::size_t rowBytes = array.rowBytes();
    Handle type(fileType(array.dtype(), path, array.name()), H5Tclose, path + ": no HDF5 type");
    Handle space(H5Screate_simple(int(dims.size()), dims.data(), maxDims.data()), H5Sclose, path + ": no dataspace");
    Handle properties(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, path + ": no dataset properties");
    std::vector<hsize_t> chunk = dims;
    const bool empty = std::any_of(dims.begin() + 1, dims.end(), [](hsize_t d) { return d == 0; });
    chunk[0] = std::max<hsize_t>(1, rowBytes ? (1u << 20) / rowBytes : 1); // about 1 MiB a chunk
    if (!empty) {
        H5Pset_chunk(properties, int(chunk.size()), chunk.data());
        if (compression > 0) {
            H5Pset_shuffle(properties);
            H5Pset_deflate(properties, unsigned(compression));
        }
    }
    const hid_t creation = empty ? hid_t(H5P_DEFAULT) : hid_t(properties);
    Handle dataset(H5Dcreate2(file, array.name().c_str(), type, space, H5P_DEFAULT, creation, H5P_DEFAULT), H5Dclose,
                   path + ": cannot create the dataset '" + array.name() + "'");
    if (array.rows() == 0 || rowBytes == 0)
        return;
    // Block by block from the staged .npy (its data follows the header), into the matching rows.
    std::ifstream in(array.file(), std::ios::binary);
    in.seekg(std::streamoff(array.headerLength()));
    const std::int64_t block = std::int64_t(chunk[0]);
    std::vector<char> buffer;
    for (std::int64_t first = 0; first < array.rows(); first += block) {
        const std::int64_t count = std::min(block, array.rows() - first);
        buffer.resize(std::size_t(count) * rowBytes);
        if (!in.read(buffer.data(), std::streamsize(buffer.size())))
            throw Error(path + ": cannot read the staged rows of '" + array.name() + "'");
        std::vector<hsize_t> start(dims.size(), 0), counts = dims;
        start[0] = hsize_t(first), counts[0] = hsize_t(count);
        Handle fileSpace(H5Dget_space(dataset), H5Sclose, path + ": no dataspace");
        H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, start.data(), nullptr, counts.data(), nullptr);
        Handle memorySpace(H5Screate_simple(int(counts.size()), counts.data(), nullptr), H5Sclose,
                           path + ": no dataspace");
        if (H5Dwrite(dataset, type, memorySpace, fileSpace, H5P_DEFAULT, buffer.data()) < 0)
            throw Error(path + ": cannot write '" + array.name() + "' (is the disk full?)");
    }
}

void writeStringAttribute(hid_t file, const char* name, const std::string& text, const std::string& path)
{
    Handle type(H5Tcopy(H5T_C_S1), H5Tclose, path + ": no string type");
    H5Tset_size(type, std::max<std::size_t>(1, text.size()));
    H5Tset_cset(type, H5T_CSET_UTF8);
    Handle space(H5Screate(H5S_SCALAR), H5Sclose, path + ": no dataspace");
    Handle attribute(H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
                     path + ": cannot add the attribute " + name);
    if (H5Awrite(attribute, type, text.empty() ? " " : text.data()) < 0)
        throw Error(path + ": cannot write the attribute " + name);
}

DType dtypeOf(hid_t type, const std::string& what)
{
    const H5T_class_t kind = H5Tget_class(type);
    const std::size_t size = H5Tget_size(type);
    if (kind == H5T_FLOAT && (size == 2 || size == 4 || size == 8))
        return size == 2 ? DType::Float16 : size == 4 ? DType::Float32 : DType::Float64;
    if (kind == H5T_INTEGER) {
        const bool isSigned = H5Tget_sign(type) == H5T_SGN_2;
        if (!isSigned && size == 1)
            return DType::UInt8;
        if (isSigned && size == 1)
            return DType::Int8;
        if (isSigned && size == 2)
            return DType::Int16;
        if (isSigned && size == 4)
            return DType::Int32;
        if (isSigned && size == 8)
            return DType::Int64;
    }
    throw Error(what + ": a type LayerScope does not write (HDF5 class " + std::to_string(int(kind)) + ", "
                + std::to_string(size) + " bytes)");
}

// The type to read `dtype` into memory as (little-endian, as the machine is).
hid_t memoryType(DType dtype)
{
    switch (dtype) {
    case DType::Float16: return fileType(DType::Float16, "", "");
    case DType::Float32: return H5Tcopy(H5T_NATIVE_FLOAT);
    case DType::Float64: return H5Tcopy(H5T_NATIVE_DOUBLE);
    case DType::Int8: return H5Tcopy(H5T_NATIVE_INT8);
    case DType::Int16: return H5Tcopy(H5T_NATIVE_INT16);
    case DType::Int32: return H5Tcopy(H5T_NATIVE_INT32);
    case DType::Int64: return H5Tcopy(H5T_NATIVE_INT64);
    default: return H5Tcopy(H5T_NATIVE_UINT8);
    }
}

} // namespace

std::vector<Tensor> readHdf5Datasets(const std::string& path, const std::vector<std::string>& names,
                                     std::uint64_t maxBytes)
{
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    if (H5Fis_hdf5(path.c_str()) <= 0)
        throw Error(path + ": not an HDF5 file");
    Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose, path + ": cannot open as HDF5");
    std::vector<Tensor> tensors;
    for (const std::string& name : names) {
        const std::string what = path + ": '" + name + "'";
        if (H5Lexists(file, name.c_str(), H5P_DEFAULT) <= 0)
            throw Error(what + " is not in the file");
        Handle dataset(H5Dopen2(file, name.c_str(), H5P_DEFAULT), H5Dclose, what + " is not a dataset");
        Handle type(H5Dget_type(dataset), H5Tclose, what + ": no type");
        const DType dtype = dtypeOf(type, what);
        Handle space(H5Dget_space(dataset), H5Sclose, what + ": no dataspace");
        const int rank = H5Sget_simple_extent_ndims(space);
        if (rank < 1 || rank > 32)
            throw Error(what + ": " + std::to_string(rank) + " axes");
        std::vector<hsize_t> dims(std::size_t(rank), 0);
        H5Sget_simple_extent_dims(space, dims.data(), nullptr);
        std::uint64_t bytes = elementSize(dtype);
        std::vector<std::int64_t> shape;
        for (hsize_t d : dims) {
            if (d != 0 && bytes > maxBytes / d)
                throw Error(what + " declares more than " + std::to_string(maxBytes >> 20) + " MiB");
            bytes *= d;
            shape.push_back(std::int64_t(d));
        }
        Tensor tensor = Tensor::zeros(shape, dtype);
        Handle memory(memoryType(dtype), H5Tclose, what + ": no type");
        if (bytes > 0 && H5Dread(dataset, memory, H5S_ALL, H5S_ALL, H5P_DEFAULT, tensor.mutableData()) < 0)
            throw Error(what + ": cannot read (a damaged file?)");
        tensors.push_back(std::move(tensor));
    }
    return tensors;
}

void writeHdf5File(const std::string& path, const std::vector<const StagedArray*>& arrays,
                   const std::string& manifestJson, int compression)
{
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); // errors are ours to report, in one line
    Handle file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose,
                path + ": cannot create an HDF5 file there");
    for (const StagedArray* array : arrays)
        writeArray(file, *array, path, std::clamp(compression, 0, 9));
    if (!manifestJson.empty())
        writeStringAttribute(file, "layerscope_manifest", manifestJson, path);
    if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0)
        throw Error(path + ": cannot write (is the disk full?)");
}

} // namespace layerscope::detail
