#pragma once
// The inputs of a run, one per forward argument: an image, a folder of images, or an .npy tensor.
// The one way inputs are read: the CLI, the GUI and extraction all open them here.
//
// A folder run pairs the folders file by file (sorted order); an image or an .npy of one row is
// shared by every sample, an .npy of one row per image gives each sample its row. Without a folder,
// the inputs make one forward: images as a batch of one, .npy tensors as they are.

#include "layerscope/model.h"
#include "layerscope/preprocessing.h"
#include "layerscope/tensor.h"

#include <cstdint>
#include <string>
#include <vector>

namespace layerscope {

class InputSet {
public:
    enum class Kind { Image, Folder, Tensor };

    // Lists folders, reads .npy files and checks images now, so that a bad input fails before any
    // work with a line naming it. Throws layerscope::Error.
    InputSet(const std::vector<std::string>& inputs, const Preprocessing& preprocessing, bool recursive);

    bool isFolderRun() const { return datasetSize_ >= 0; }
    // Samples in the data set: the folders' file count, or 1 without a folder.
    std::int64_t datasetSize() const { return isFolderRun() ? datasetSize_ : 1; }
    std::size_t arguments() const { return sources_.size(); }
    Kind kind(std::size_t argument) const { return sources_[argument].kind; }
    const std::string& path(std::size_t argument) const { return sources_[argument].path; }
    // Each argument's file for data-set row `row` (the input itself where it is not a folder).
    std::vector<std::string> filesOf(std::int64_t row) const;

    // Sample `row` of a folder run, one tensor per argument without a batch axis ([C, H, W] for an
    // image), or the single forward's inputs (with their batch axis). Decodes; safe from several
    // threads at once. Throws layerscope::Error naming the file.
    std::vector<Tensor> load(std::int64_t row) const;

    // The single forward's inputs, as the model takes them: arrays converted where the model wants
    // it (prepareArrayInput), images as a batch of one.
    std::vector<Tensor> loadForModel(const Model& model) const;

private:
    struct Source {
        Kind kind;
        std::string path;
        std::vector<std::string> files; // Folder
        Tensor tensor;                  // Tensor (.npy)
    };
    std::vector<Source> sources_;
    Preprocessing preprocessing_;
    std::int64_t datasetSize_ = -1;
};

} // namespace layerscope
