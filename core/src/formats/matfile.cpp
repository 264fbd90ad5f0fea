#include "formats/matfile_p.h"

#include "formats/npyrows_p.h"
#include "layerscope/error.h"
#include "layerscope/npy.h"

#include <matio.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>

namespace layerscope::detail {

namespace {

struct MatClass {
    matio_classes classType;
    matio_types dataType;
    int flags;
};

MatClass matClassOf(DType dtype)
{
    switch (dtype) {
    case DType::Float32: return {MAT_C_SINGLE, MAT_T_SINGLE, 0};
    case DType::Float64: return {MAT_C_DOUBLE, MAT_T_DOUBLE, 0};
    case DType::Int8: return {MAT_C_INT8, MAT_T_INT8, 0};
    case DType::Int16: return {MAT_C_INT16, MAT_T_INT16, 0};
    case DType::Int32: return {MAT_C_INT32, MAT_T_INT32, 0};
    case DType::Int64: return {MAT_C_INT64, MAT_T_INT64, 0};
    case DType::UInt8: return {MAT_C_UINT8, MAT_T_UINT8, 0};
    case DType::Bool: return {MAT_C_UINT8, MAT_T_UINT8, MAT_F_LOGICAL};
    case DType::Float16:
    case DType::BFloat16: break;
    }
    throw Error("MATLAB has no " + dtypeName(dtype) + "; export float16 captures as .npy or .npz");
}

// MATLAB is column-major: the C-ordered values are transposed so that index [n, c, h, w] in numpy
// (scipy.io.loadmat) is the same element as A(n+1, c+1, h+1, w+1) in MATLAB.
std::vector<char> toColumnMajor(const Tensor& tensor)
{
    const std::size_t width = elementSize(tensor.dtype), dims = tensor.shape.size();
    std::vector<char> out(tensor.nbytes());
    std::vector<std::int64_t> cStride(dims, 1), index(dims, 0);
    for (std::size_t d = dims - 1; d-- > 0;)
        cStride[d] = cStride[d + 1] * tensor.shape[d + 1];
    const char* in = static_cast<const char*>(tensor.data.get());
    for (std::int64_t i = 0, n = tensor.numel(); i < n; ++i) { // i walks the column-major order
        std::int64_t offset = 0;
        for (std::size_t d = 0; d < dims; ++d)
            offset += index[d] * cStride[d];
        std::memcpy(out.data() + i * width, in + offset * width, width);
        for (std::size_t d = 0; d < dims; ++d) {
            if (++index[d] < tensor.shape[d])
                break;
            index[d] = 0;
        }
    }
    return out;
}

using MatFile = std::unique_ptr<mat_t, decltype(&Mat_Close)>;
using MatVariable = std::unique_ptr<matvar_t, decltype(&Mat_VarFree)>;

DType dtypeOfMatClass(matio_classes type, bool logical, const std::string& what)
{
    switch (type) {
    case MAT_C_SINGLE: return DType::Float32;
    case MAT_C_DOUBLE: return DType::Float64;
    case MAT_C_INT8: return DType::Int8;
    case MAT_C_INT16: return DType::Int16;
    case MAT_C_INT32: return DType::Int32;
    case MAT_C_INT64: return DType::Int64;
    case MAT_C_UINT8: return logical ? DType::Bool : DType::UInt8;
    default: throw Error(what + " is not a numeric array LayerScope writes");
    }
}

// The inverse of toColumnMajor.
Tensor fromColumnMajor(const char* values, std::vector<std::int64_t> shape, DType dtype)
{
    Tensor tensor = Tensor::zeros(shape, dtype);
    const std::size_t width = elementSize(dtype), dims = shape.size();
    std::vector<std::int64_t> cStride(dims, 1), index(dims, 0);
    for (std::size_t d = dims - 1; d-- > 0;)
        cStride[d] = cStride[d + 1] * shape[d + 1];
    char* out = static_cast<char*>(tensor.mutableData());
    for (std::int64_t i = 0, n = tensor.numel(); i < n; ++i) {
        std::int64_t offset = 0;
        for (std::size_t d = 0; d < dims; ++d)
            offset += index[d] * cStride[d];
        std::memcpy(out + offset * width, values + i * width, width);
        for (std::size_t d = 0; d < dims; ++d) {
            if (++index[d] < shape[d])
                break;
            index[d] = 0;
        }
    }
    return tensor;
}

void writeNameCell(mat_t* file, const char* variable, const std::vector<std::string>& names, const std::string& path)
{
    std::size_t dims[2] = {1, names.size()};
    matvar_t* cell = Mat_VarCreate(variable, MAT_C_CELL, MAT_T_CELL, 2, dims, nullptr, 0);
    for (std::size_t i = 0; i < names.size(); ++i) {
        std::size_t textDims[2] = {1, names[i].size()};
        matvar_t* text
            = Mat_VarCreate(nullptr, MAT_C_CHAR, MAT_T_UINT8, 2, textDims, const_cast<char*>(names[i].data()), 0);
        Mat_VarSetCell(cell, static_cast<int>(i), text);
    }
    const int status = Mat_VarWrite(file, cell, MAT_COMPRESSION_NONE);
    Mat_VarFree(cell);
    if (status != 0)
        throw Error(path + ": cannot write (libmatio failed on '" + std::string(variable) + "')");
}

} // namespace

void checkMatVariableSize(const std::string& path, const std::string& capture, std::int64_t rows, std::size_t rowBytes,
                          bool predicted)
{
    const double bytes = double(rows) * double(rowBytes);
    if (bytes < double(std::size_t(1) << 31))
        return;
    char size[32];
    std::snprintf(size, sizeof size, "%.1f GiB", bytes / double(1 << 30));
    throw Error(path + ": capture '" + capture + "' " + (predicted ? "would be " : "is ") + size
                + (predicted ? " over " + std::to_string(rows) + " inputs" : std::string())
                + ", more than a MATLAB v5 variable holds (2 GiB); write .h5, .npz or .npy, or reduce it (--pool avg)");
}

std::vector<Tensor> readMatVariables(const std::string& path, const std::vector<std::string>& variables,
                                     std::uint64_t maxBytes)
{
    MatFile file(Mat_Open(path.c_str(), MAT_ACC_RDONLY), &Mat_Close);
    if (!file)
        throw Error(path + ": not a MATLAB file libmatio can read");
    std::vector<Tensor> tensors;
    for (const std::string& name : variables) {
        const std::string what = path + ": variable '" + name + "'";
        MatVariable info(Mat_VarReadInfo(file.get(), name.c_str()), &Mat_VarFree);
        if (!info)
            throw Error(what + " is missing");
        const DType dtype = dtypeOfMatClass(info->class_type, info->isLogical != 0, what);
        if (info->isComplex || info->rank < 1 || info->rank > 16)
            throw Error(what + " is not a real array of up to 16 dimensions");
        std::vector<std::int64_t> shape;
        std::uint64_t bytes = elementSize(dtype);
        for (int d = 0; d < info->rank; ++d) {
            const std::uint64_t size = info->dims[d];
            if (size > 0 && bytes > maxBytes / size)
                throw Error(what + " declares more values than the file could hold");
            bytes *= size;
            shape.push_back(std::int64_t(size));
        }
        MatVariable variable(Mat_VarRead(file.get(), name.c_str()), &Mat_VarFree);
        if (!variable || (bytes > 0 && !variable->data) || variable->nbytes != bytes)
            throw Error(what + " cannot be read (damaged?)");
        tensors.push_back(fromColumnMajor(static_cast<const char*>(variable->data), shape, dtype));
    }
    return tensors;
}

namespace {

// Values of a capture (all its rows, or a block of them to append) as one MATLAB variable write.
void writeValues(mat_t* file, const std::string& variableName, const Tensor& values, bool append,
                 const std::string& capture, const std::string& path)
{
    const MatClass matClass = matClassOf(values.dtype);
    const std::vector<char> columnMajor = toColumnMajor(values);
    std::vector<std::size_t> dims(values.shape.begin(), values.shape.end());
    if (dims.size() == 1)
        dims.insert(dims.begin(), 1); // a row vector, as scipy.io.savemat writes 1-D arrays
    matvar_t* variable
        = Mat_VarCreate(variableName.c_str(), matClass.classType, matClass.dataType, static_cast<int>(dims.size()),
                        dims.data(), const_cast<char*>(columnMajor.data()), MAT_F_DONT_COPY_DATA | matClass.flags);
    if (!variable)
        throw Error(path + ": libmatio cannot hold capture '" + capture + "'");
    const int status = append ? Mat_VarWriteAppend(file, variable, MAT_COMPRESSION_NONE, 1)
                              : Mat_VarWrite(file, variable, MAT_COMPRESSION_NONE);
    Mat_VarFree(variable);
    if (status != 0)
        throw Error(path + ": cannot write capture '" + capture + "' (disk full?)");
}

// v7.3 only (HDF5 inside): a capture of any size goes in blocks of rows, appended along MATLAB's first
// dimension, so that memory holds a block and its column-major copy, not the capture twice.
void appendInBlocks(mat_t* file, const StagedArray& array, const std::string& variableName, const std::string& path)
{
    const NpyRowFile rows(array.file());
    const std::int64_t blockRows = std::max<std::int64_t>(1, std::int64_t((std::size_t(4) << 20) / rows.rowBytes()));
    for (std::int64_t first = 0; first < rows.rows(); first += blockRows) {
        std::vector<std::int64_t> shape = rows.shape();
        shape[0] = std::min(blockRows, rows.rows() - first);
        Tensor block = Tensor::zeros(shape, rows.dtype());
        rows.readRows(first, shape[0], static_cast<char*>(block.mutableData()));
        writeValues(file, variableName, block, true, array.name(), path);
    }
}

} // namespace

void writeMatFile(const std::string& path, int version, const std::vector<const StagedArray*>& arrays,
                  const std::vector<std::string>& variableNames)
{
    bool large = false;
    for (const StagedArray* array : arrays)
        large = large || double(array->rows()) * double(array->rowBytes()) >= double(std::size_t(1) << 31);
    const bool v73 = version == 73 || (version == 0 && large);
    MatFile file(Mat_CreateVer(path.c_str(), nullptr, v73 ? MAT_FT_MAT73 : MAT_FT_MAT5), &Mat_Close);
    if (!file)
        throw Error(path + ": cannot create the MATLAB file");
    std::vector<std::string> captureNames;
    for (std::size_t i = 0; i < arrays.size(); ++i) {
        const StagedArray& array = *arrays[i];
        (void)matClassOf(array.dtype()); // MATLAB has no float16: refused before anything is read
        if (!v73)
            checkMatVariableSize(path, array.name(), array.rows(), array.rowBytes(), false);
        captureNames.push_back(array.name());
        if (v73 && array.rows() > 0 && array.rowShape().size() > 0 && array.rowBytes() > 0)
            appendInBlocks(file.get(), array, variableNames[i], path);
        else // one capture in memory at a time
            writeValues(file.get(), variableNames[i], readNpy(array.file()), false, array.name(), path);
    }
    writeNameCell(file.get(), "capture_names", captureNames, path);
    writeNameCell(file.get(), "variable_names", variableNames, path);
    if (Mat_Close(file.release()) != 0)
        throw Error(path + ": cannot write (closing the MATLAB file failed)");
}

} // namespace layerscope::detail
