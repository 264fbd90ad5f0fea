#include "layerscope/inputs.h"

#include "layerscope/error.h"
#include "layerscope/npy.h"
#include "paths_p.h"

#include <filesystem>

namespace fs = std::filesystem;

namespace layerscope {

InputSet::InputSet(const std::vector<std::string>& inputs, const Preprocessing& preprocessing, bool recursive)
    : preprocessing_(preprocessing)
{
    for (const std::string& input : inputs) {
        std::error_code ec;
        if (fs::is_directory(input, ec)) {
            Source source {Kind::Folder, input, listImages(input, recursive), {}};
            if (source.files.empty())
                throw Error(input + ": no images in this folder (PNG, JPEG, BMP, TIFF, WebP)"
                            + std::string(recursive ? "" : "; --recursive looks in subfolders"));
            sources_.push_back(std::move(source));
        } else if (detail::lowerExtension(input) == ".npy") {
            sources_.push_back({Kind::Tensor, input, {}, readNpy(input)});
        } else if (isImageFile(input)) {
            loadImage(input, preprocessing); // fail now, with the file's name, rather than inside a batch
            sources_.push_back({Kind::Image, input, {}, {}});
        } else if (!fs::exists(input, ec)) {
            throw Error(input + ": no such file or folder");
        } else {
            throw Error(input + ": not an input LayerScope reads (an image, a folder of images, or an .npy tensor)");
        }
    }
    // Folders given for several arguments are paired file by file.
    const Source* first = nullptr;
    for (const Source& source : sources_) {
        if (source.kind != Kind::Folder)
            continue;
        const auto n = std::int64_t(source.files.size());
        if (first && n != datasetSize_)
            throw Error(source.path + ": " + std::to_string(n) + " images, but the folder " + first->path + " has "
                        + std::to_string(datasetSize_)
                        + "; folders given for several arguments are paired file by file");
        first = first ? first : &source;
        datasetSize_ = n;
    }
    for (const Source& source : sources_)
        if (isFolderRun() && source.kind == Kind::Tensor && !source.tensor.shape.empty() && source.tensor.shape[0] != 1
            && source.tensor.shape[0] != datasetSize_)
            throw Error(source.path + ": " + shapeToString(source.tensor.shape) + " has neither 1 row (shared by every "
                        + "image) nor one row per image (" + std::to_string(datasetSize_) + ")");
}

std::vector<std::string> InputSet::filesOf(std::int64_t row) const
{
    std::vector<std::string> files;
    for (const Source& source : sources_)
        files.push_back(source.kind == Kind::Folder ? source.files[std::size_t(row)] : source.path);
    return files;
}

std::vector<Tensor> InputSet::load(std::int64_t row) const
{
    std::vector<Tensor> tensors;
    for (const Source& source : sources_) {
        switch (source.kind) {
        case Kind::Folder: tensors.push_back(loadImage(source.files[std::size_t(row)], preprocessing_)); break;
        case Kind::Image: {
            Tensor image = loadImage(source.path, preprocessing_);
            if (!isFolderRun()) // a single forward: the image is a batch of one
                image.shape.insert(image.shape.begin(), 1);
            tensors.push_back(image);
            break;
        }
        case Kind::Tensor: {
            Tensor tensor = source.tensor;
            if (isFolderRun() && !tensor.shape.empty()) {
                tensor = rowsOf(tensor, tensor.shape[0] == 1 ? 0 : row, 1);
                tensor.shape.erase(tensor.shape.begin());
            }
            tensors.push_back(tensor);
            break;
        }
        }
    }
    return tensors;
}

std::vector<Tensor> InputSet::loadForModel(const Model& model) const
{
    if (isFolderRun())
        throw Error(path(0) + ": a folder is a data set, not one forward's input");
    std::vector<Tensor> tensors = load(0);
    for (std::size_t a = 0; a < tensors.size(); ++a)
        tensors[a] = prepareArrayInput(model, tensors[a], sources_[a].path);
    return tensors;
}

} // namespace layerscope
