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
    Handle dataset(H5Dcreate2(file, array.name().c_str(), type, space, H5P_DEFAULT, creation, H5P_DEFAULT),
                   H5Dclose, path + ": cannot create the dataset '" + array.name() + "'");
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

} // namespace

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
