#include "extraction/shardrows_p.h"

#include "formats/hdf5file_p.h"
#include "formats/matfile_p.h"
#include "layerscope/error.h"
#include "layerscope/exporters.h"
#include "layerscope/npy.h"
#include "layerscope/ptfile.h"

#include <filesystem>
#include <map>

namespace layerscope::detail {

namespace {

namespace fs = std::filesystem;

// gzip inflates at most about 1032:1: an HDF5 dataset or a compressed .mat variable may not declare
// more than that of its file's size.
std::uint64_t inflationBound(const std::string& path)
{
    std::error_code error;
    const std::uint64_t bytes = fs::file_size(path, error);
    return error ? 0 : bytes * 1100 + (std::uint64_t(1) << 20);
}

} // namespace

std::vector<std::unique_ptr<NpyRowFile>> openShardRows(const std::string& shard,
                                                       const std::vector<ShardCapture>& captures,
                                                       const std::string& staging, std::size_t shardNumber)
{
    std::vector<std::unique_ptr<NpyRowFile>> files;
    const ExportFormat format = exportFormatFor(shard);
    auto unpack = [&](std::size_t c, Tensor tensor) {
        const std::string file
            = (fs::path(staging) / ("shard" + std::to_string(shardNumber) + "." + std::to_string(c) + ".npy")).string();
        Tensor declared {captures[c].shape, tensor.dtype, nullptr};
        if (tensor.shape.size() != captures[c].shape.size() && tensor.numel() == declared.numel())
            tensor.shape = captures[c].shape; // a 1-D capture is a 1 x N row in MATLAB
        writeNpy(file, tensor);
        files.push_back(std::make_unique<NpyRowFile>(file));
    };
    if (format == ExportFormat::NpyFolder) {
        for (std::size_t c = 0; c < captures.size(); ++c) {
            const std::string stored = captures[c].storedAs.empty() ? captures[c].name + ".npy" : captures[c].storedAs;
            if (stored.find('/') != std::string::npos)
                throw Error(shard + ": its manifest stores '" + captures[c].name + "' outside the folder (" + stored
                            + ")");
            const std::string file = (fs::path(shard) / stored).string();
            if (NpyRowFile::isFortranOrder(file))
                unpack(c, readNpy(file));
            else
                files.push_back(std::make_unique<NpyRowFile>(file));
        }
    } else if (format == ExportFormat::Npz || format == ExportFormat::Pt) {
        std::map<std::string, Tensor> arrays;
        for (NamedTensor& named : format == ExportFormat::Npz ? readNpz(shard) : readPt(shard))
            arrays[named.name] = std::move(named.tensor);
        for (std::size_t c = 0; c < captures.size(); ++c) {
            const auto found = arrays.find(captures[c].name);
            if (found == arrays.end())
                throw Error(shard + ": no array '" + captures[c].name + "', which its manifest names");
            unpack(c, std::move(found->second));
            arrays.erase(found);
        }
    } else if (format == ExportFormat::Hdf5 || format == ExportFormat::Mat) {
        for (std::size_t c = 0; c < captures.size(); ++c) {
            std::vector<Tensor> one = format == ExportFormat::Hdf5
                ? readHdf5Datasets(shard, {captures[c].name}, inflationBound(shard))
                : readMatVariables(shard, {captures[c].storedAs.empty() ? captures[c].name : captures[c].storedAs},
                                   inflationBound(shard));
            unpack(c, std::move(one.front()));
        }
    } else {
        throw Error(shard + ": merge reads .npz, .pt, .h5, .mat and folders of .npy files, not "
                    + exportFormatName(format)
                    + "; write the shards as .npz or .h5 (any format can be the merged output)");
    }
    return files;
}

} // namespace layerscope::detail
