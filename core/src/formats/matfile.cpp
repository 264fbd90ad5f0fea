#include "formats/matfile_p.h"

#include "layerscope/error.h"
#include "layerscope/npy.h"

#include <matio.h>

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
        const MatClass matClass = matClassOf(array.dtype());
        if (!v73)
            checkMatVariableSize(path, array.name(), array.rows(), array.rowBytes(), false);
        const Tensor values = readNpy(array.file()); // one capture in memory at a time
        const std::vector<char> columnMajor = toColumnMajor(values);
        std::vector<std::size_t> dims(values.shape.begin(), values.shape.end());
        if (dims.size() == 1)
            dims.insert(dims.begin(), 1); // a row vector, as scipy.io.savemat writes 1-D arrays
        matvar_t* variable = Mat_VarCreate(
            variableNames[i].c_str(), matClass.classType, matClass.dataType, static_cast<int>(dims.size()), dims.data(),
            const_cast<char*>(columnMajor.data()), MAT_F_DONT_COPY_DATA | matClass.flags);
        if (!variable)
            throw Error(path + ": libmatio cannot hold capture '" + array.name() + "'");
        const int status = Mat_VarWrite(file.get(), variable, MAT_COMPRESSION_NONE);
        Mat_VarFree(variable);
        if (status != 0)
            throw Error(path + ": cannot write capture '" + array.name() + "' (disk full?)");
        captureNames.push_back(array.name());
    }
    writeNameCell(file.get(), "capture_names", captureNames, path);
    writeNameCell(file.get(), "variable_names", variableNames, path);
    if (Mat_Close(file.release()) != 0)
        throw Error(path + ": cannot write (closing the MATLAB file failed)");
}

} // namespace layerscope::detail
