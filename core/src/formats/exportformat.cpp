// Output formats by their file names, and the files that go beside an output: no dependencies, so the
// CLI's option checks (and fuzz_cli) link it alone.

#include "layerscope/error.h"
#include "layerscope/exporters.h"
#include "paths_p.h"

#include <filesystem>

namespace layerscope {

namespace fs = std::filesystem;

ExportFormat exportFormatFor(const std::string& path)
{
    const std::string extension = detail::lowerExtension(path);
    std::error_code ec;
    if (extension.empty() || fs::is_directory(path, ec) || path.back() == '/')
        return ExportFormat::NpyFolder;
    if (extension == ".npz")
        return ExportFormat::Npz;
    if (extension == ".mat")
        return ExportFormat::Mat;
    if (extension == ".pt" || extension == ".pth")
        return ExportFormat::Pt;
    if (extension == ".csv")
        return ExportFormat::Csv;
    if (extension == ".png")
        return ExportFormat::Png;
    if (extension == ".h5" || extension == ".hdf5")
        return ExportFormat::Hdf5;
    if (extension == ".npy")
        throw Error(path + ": one .npy holds one array; give a folder for one .npy per capture, or use .npz");
    throw Error(path + ": unknown output format '" + extension
                + "' (use a folder, or .npz, .mat, .pt, .csv, .png, .h5)");
}

std::string exportFormatName(ExportFormat format)
{
    switch (format) {
    case ExportFormat::NpyFolder: return "npy folder";
    case ExportFormat::Npz: return "npz";
    case ExportFormat::Mat: return "mat";
    case ExportFormat::Pt: return "pt";
    case ExportFormat::Csv: return "csv";
    case ExportFormat::Png: return "png";
    case ExportFormat::Hdf5: return "hdf5";
    }
    return "unknown";
}

std::string manifestPathFor(const std::string& outputPath)
{
    if (exportFormatFor(outputPath) == ExportFormat::NpyFolder)
        return (fs::path(outputPath) / "manifest.json").string();
    // The full output name: a.mat and a.npz side by side keep a manifest each.
    return detail::withoutTrailingSlashes(outputPath) + ".manifest.json";
}

std::string resumeStatePathFor(const std::string& outputPath)
{
    const fs::path output(detail::withoutTrailingSlashes(outputPath));
    const fs::path parent = output.parent_path().empty() ? fs::path(".") : output.parent_path();
    return (parent / ("." + output.filename().string() + ".resume")).string();
}

} // namespace layerscope
