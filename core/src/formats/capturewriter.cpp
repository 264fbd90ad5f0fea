#include "layerscope/exporters.h"

#include "formats/atomicfile_p.h"
#include "formats/hdf5file_p.h"
#include "formats/matfile_p.h"
#include "formats/ptwriter_p.h"
#include "formats/stagedarray_p.h"
#include "formats/staging_p.h"
#include "layerscope/error.h"
#include "paths_p.h"

#include <nlohmann/json.hpp>
#include <zip.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <sys/stat.h>
#include <unistd.h>

namespace layerscope {

namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

DType dtypeNamed(const std::string& name)
{
    for (DType d : {DType::Float32, DType::Float64, DType::Float16, DType::BFloat16, DType::Int8, DType::Int16,
                    DType::Int32, DType::Int64, DType::UInt8, DType::Bool})
        if (dtypeName(d) == name)
            return d;
    throw Error("unknown dtype '" + name + "'");
}

// Capture names as file names: '/' is the only character Linux refuses.
std::string fileNameFor(const std::string& name)
{
    std::string file = name;
    std::replace(file.begin(), file.end(), '/', '_');
    return file;
}

void writeFileAtomically(const std::string& path, const void* data, std::size_t size)
{
    detail::AtomicFile file(path);
    file.write(data, size);
    file.commit();
}

std::string formatValue(const char* p, DType dtype)
{
    char text[40];
    switch (dtype) {
    case DType::Float32: std::snprintf(text, sizeof text, "%.9g", *reinterpret_cast<const float*>(p)); break;
    case DType::Float64: std::snprintf(text, sizeof text, "%.17g", *reinterpret_cast<const double*>(p)); break;
    case DType::Int8: std::snprintf(text, sizeof text, "%d", *reinterpret_cast<const std::int8_t*>(p)); break;
    case DType::Int16: std::snprintf(text, sizeof text, "%d", *reinterpret_cast<const std::int16_t*>(p)); break;
    case DType::Int32: std::snprintf(text, sizeof text, "%d", *reinterpret_cast<const std::int32_t*>(p)); break;
    case DType::Int64:
        std::snprintf(text, sizeof text, "%lld", static_cast<long long>(*reinterpret_cast<const std::int64_t*>(p)));
        break;
    case DType::UInt8: std::snprintf(text, sizeof text, "%u", *reinterpret_cast<const std::uint8_t*>(p)); break;
    case DType::Bool: std::snprintf(text, sizeof text, "%d", *p ? 1 : 0); break;
    case DType::Float16:
    case DType::BFloat16: throw Error("CSV export of " + dtypeName(dtype) + " is not supported; use .npy");
    }
    return text;
}

std::string csvField(const std::string& text)
{
    if (text.find_first_of(",\"\n") == std::string::npos)
        return text;
    std::string quoted = "\"";
    for (char c : text)
        quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    return quoted + "\"";
}

// What a capture is stored as: a bfloat16 capture (a bfloat16 model's) as float32, which holds every
// bfloat16 value exactly and which numpy, MATLAB and HDF5 readers know; numpy has no bfloat16.
Tensor storable(const Tensor& tensor)
{
    return tensor.dtype == DType::BFloat16 ? convertFloating(tensor, DType::Float32) : tensor;
}

} // namespace

struct CaptureWriter::Impl {
    std::string path;
    ExportFormat format;
    ExportOptions options;
    std::unique_ptr<detail::StagingFolder> stagingFolder; // removed unless it becomes the output
    std::string staging;                                  // its path
    std::vector<std::unique_ptr<detail::StagedArray>> arrays;
    // The manifest's rows, ",\n"-separated, in a hidden file beside the output (never committed:
    // removed with the writer), buffered.
    std::unique_ptr<detail::AtomicFile> manifestRows;
    std::string manifestRowBuffer;
    std::int64_t manifestRowCount = 0;
    bool streamsRows = false;
    bool committed = false;
    // Resumable: the rows go to a plain file in the staging folder, appended, cut back on resume.
    int resumeRowsFd = -1;
    std::string resumeRowsPath;
    std::string resumedState;

    std::string checkpointFile() const { return staging + "/checkpoint.json"; }
    void flushManifestRows();
    void reopen(const std::string& checkpointJson);
    std::string manifestRowsFile() const { return resumeRowsFd >= 0 ? resumeRowsPath : manifestRows->temporaryPath(); }

    std::string stagedFile(std::size_t index) const { return staging + "/capture" + std::to_string(index) + ".npy"; }
    std::vector<std::string> commitFolder();
    void commitNpz();
    void commitMat(std::vector<CaptureSummary>& summary);
    void commitPt();
    void commitHdf5(const std::string& manifestJson);
    void commitCsv(const std::function<std::string(std::int64_t)>& rowLabel);
    std::vector<std::string> commitPng(const std::function<std::string(std::int64_t)>& rowLabel);
    void writeManifest(const std::string& manifestJson);
};

CaptureWriter::CaptureWriter(const std::string& path, const ExportOptions& options)
    : impl_(std::make_unique<Impl>())
{
    impl_->format = exportFormatFor(path);
    impl_->options = options;
    const std::string target = detail::withoutTrailingSlashes(path);
    impl_->path = target;
    std::error_code ec;
    if (impl_->format != ExportFormat::NpyFolder || !fs::is_directory(target, ec))
        checkWritable(target);
    else if (::access(target.c_str(), W_OK) != 0)
        detail::throwWriteError(target, errno);
    if (!options.resumable) {
        impl_->stagingFolder = std::make_unique<detail::StagingFolder>(target);
        impl_->staging = impl_->stagingFolder->path();
        return;
    }
    impl_->stagingFolder = std::make_unique<detail::StagingFolder>(target, detail::StagingFolder::Resumable {});
    impl_->staging = impl_->stagingFolder->path();
    impl_->resumeRowsPath = impl_->staging + "/manifest-rows";
    std::ifstream checkpoint(impl_->checkpointFile(), std::ios::binary);
    if (impl_->stagingFolder->resumed() && checkpoint) {
        impl_->reopen(std::string(std::istreambuf_iterator<char>(checkpoint), {}));
    } else {
        impl_->resumeRowsFd = ::open(impl_->resumeRowsPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (impl_->resumeRowsFd < 0)
            detail::throwWriteError(target, errno);
    }
}

CaptureWriter::~CaptureWriter()
{
    impl_->arrays.clear(); // closes the files
    if (impl_->resumeRowsFd >= 0)
        ::close(impl_->resumeRowsFd);
    impl_->stagingFolder.reset();
}

// The arrays and manifest rows as the last checkpoint left them; anything written after it is cut.
void CaptureWriter::Impl::reopen(const std::string& checkpointJson)
{
    const std::string damaged = path + ": the resume state in " + staging + " is damaged";
    Json checkpoint;
    try {
        checkpoint = Json::parse(checkpointJson);
        for (const auto& a : checkpoint.at("arrays")) {
            const DType dtype = dtypeNamed(a.at("dtype").get<std::string>());
            arrays.push_back(std::make_unique<detail::StagedArray>(
                a.at("name").get<std::string>(), stagedFile(arrays.size()), path,
                a.at("row_shape").get<std::vector<std::int64_t>>(), dtype, a.at("rows").get<std::int64_t>()));
        }
        manifestRowCount = checkpoint.at("manifest_row_count").get<std::int64_t>();
        streamsRows = manifestRowCount > 0;
        const auto bytes = checkpoint.at("manifest_rows_bytes").get<std::uint64_t>();
        resumeRowsFd = ::open(resumeRowsPath.c_str(), O_WRONLY | O_CLOEXEC);
        if (resumeRowsFd < 0 || ::ftruncate(resumeRowsFd, off_t(bytes)) != 0
            || ::lseek(resumeRowsFd, off_t(bytes), SEEK_SET) != off_t(bytes))
            throw Error(damaged + " (" + resumeRowsPath + ": " + std::strerror(errno) + ")");
        resumedState = checkpoint.at("state").dump();
    } catch (const Json::exception& error) {
        throw Error(damaged + " (" + error.what() + "); remove it to start again");
    }
}

void CaptureWriter::Impl::flushManifestRows()
{
    if (manifestRowBuffer.empty())
        return;
    if (resumeRowsFd >= 0)
        detail::writeFully(resumeRowsFd, manifestRowBuffer.data(), manifestRowBuffer.size(), path);
    else
        manifestRows->write(manifestRowBuffer.data(), manifestRowBuffer.size());
    manifestRowBuffer.clear();
}

void CaptureWriter::checkpoint(const std::string& stateJson)
{
    if (impl_->resumeRowsFd < 0)
        throw Error(impl_->path + ": a checkpoint needs a resumable writer");
    Json checkpoint = Json::object();
    Json arrays = Json::array();
    for (const auto& array : impl_->arrays) {
        array->sync();
        arrays.push_back({{"name", array->name()},
                          {"row_shape", array->rowShape()},
                          {"dtype", dtypeName(array->dtype())},
                          {"rows", array->rows()}});
    }
    impl_->flushManifestRows();
    if (::fdatasync(impl_->resumeRowsFd) != 0)
        detail::throwWriteError(impl_->path, errno);
    const off_t rowsBytes = ::lseek(impl_->resumeRowsFd, 0, SEEK_CUR);
    checkpoint["arrays"] = arrays;
    checkpoint["manifest_row_count"] = impl_->manifestRowCount;
    checkpoint["manifest_rows_bytes"] = std::uint64_t(rowsBytes);
    checkpoint["state"] = Json::parse(stateJson);
    detail::replaceDurably(impl_->checkpointFile(), checkpoint.dump(), impl_->path);
}

const std::string& CaptureWriter::resumedState() const { return impl_->resumedState; }

void CaptureWriter::append(const std::vector<NamedTensor>& captures)
{
    if (impl_->committed)
        throw Error(impl_->path + ": already written");
    std::vector<Tensor> stored; // each converted once, where it must be
    for (const NamedTensor& capture : captures)
        stored.push_back(storable(capture.tensor));
    if (impl_->arrays.empty()) {
        for (std::size_t i = 0; i < captures.size(); ++i) {
            for (std::size_t j = 0; j < i; ++j) {
                if (captures[j].name == captures[i].name)
                    throw Error("capture '" + captures[i].name + "' given twice");
            }
            impl_->arrays.push_back(
                std::make_unique<detail::StagedArray>(captures[i].name, impl_->stagedFile(i), impl_->path, stored[i]));
        }
    } else if (captures.size() != impl_->arrays.size()) {
        throw Error("this batch brought " + std::to_string(captures.size()) + " captures, the first one "
                    + std::to_string(impl_->arrays.size())
                    + "; a module that runs only for some inputs cannot be stacked");
    }
    for (std::size_t i = 0; i < captures.size(); ++i) {
        if (captures[i].name != impl_->arrays[i]->name())
            throw Error("capture '" + captures[i].name + "' arrived where '" + impl_->arrays[i]->name()
                        + "' was expected; the captures must be the same for every batch");
        impl_->arrays[i]->append(stored[i]);
    }
}

std::int64_t CaptureWriter::rows() const { return impl_->arrays.empty() ? 0 : impl_->arrays.front()->rows(); }
ExportFormat CaptureWriter::format() const { return impl_->format; }
const std::string& CaptureWriter::path() const { return impl_->path; }

std::vector<CaptureSummary> CaptureWriter::summary() const
{
    std::vector<CaptureSummary> result;
    for (const auto& array : impl_->arrays) {
        CaptureSummary s {array->name(), array->shape(), array->dtype(), {}};
        if (impl_->format == ExportFormat::NpyFolder)
            s.storedAs = fileNameFor(array->name()) + ".npy";
        result.push_back(std::move(s));
    }
    if (impl_->format == ExportFormat::Mat) {
        std::vector<std::string> names;
        for (const auto& s : result)
            names.push_back(s.name);
        const auto variables = detail::matlabVariableNames(names);
        for (std::size_t i = 0; i < result.size(); ++i)
            result[i].storedAs = variables[i];
    }
    return result;
}

void CaptureWriter::startManifestRows()
{
    if (impl_->streamsRows)
        return;
    impl_->streamsRows = true;
    if (impl_->resumeRowsFd < 0)
        impl_->manifestRows = std::make_unique<detail::AtomicFile>(impl_->path + ".manifest-rows");
}

void CaptureWriter::addManifestRow(const std::string& rowJson)
{
    startManifestRows();
    std::string& buffer = impl_->manifestRowBuffer;
    if (impl_->manifestRowCount++ > 0)
        buffer += ",\n";
    buffer += rowJson;
    if (buffer.size() >= (1u << 16))
        impl_->flushManifestRows();
}

void CaptureWriter::Impl::writeManifest(const std::string& manifestJson)
{
    detail::AtomicFile file(manifestPathFor(path));
    if (!streamsRows) {
        file.write(manifestJson.data(), manifestJson.size());
        file.commit();
        return;
    }
    // The object without its closing brace, then "rows" copied from the staged file.
    std::size_t end = manifestJson.rfind('}');
    if (end == std::string::npos)
        throw Error(path + ": the manifest is not a JSON object");
    while (end > 0 && std::isspace(static_cast<unsigned char>(manifestJson[end - 1])))
        --end;
    const bool empty = end > 0 && manifestJson[end - 1] == '{';
    const std::string head = manifestJson.substr(0, end) + (empty ? "\n \"rows\": [\n" : ",\n \"rows\": [\n");
    file.write(head.data(), head.size());
    flushManifestRows();
    std::ifstream rows(manifestRowsFile(), std::ios::binary);
    std::vector<char> buffer(1 << 16);
    while (rows) {
        rows.read(buffer.data(), std::streamsize(buffer.size()));
        if (rows.gcount() > 0)
            file.write(buffer.data(), std::size_t(rows.gcount()));
    }
    const std::string tail = "\n ]\n}";
    file.write(tail.data(), tail.size());
    file.commit();
    manifestRows.reset(); // removes the rows' file
    if (resumeRowsFd >= 0)
        ::unlink(resumeRowsPath.c_str());
}

std::vector<std::string> CaptureWriter::commit(const std::string& manifestJson,
                                               const std::function<std::string(std::int64_t)>& rowLabel)
{
    if (impl_->committed)
        throw Error(impl_->path + ": already written");
    for (auto& array : impl_->arrays)
        array->finish();
    if (impl_->resumeRowsFd >= 0) {
        // The folder may become the output (a folder of .npy): the resume state leaves it first.
        ::unlink(impl_->checkpointFile().c_str());
        ::unlink((impl_->checkpointFile() + ".new").c_str()); // a checkpoint a kill interrupted
        const std::string rows = impl_->path + ".resume-rows";
        if (std::rename(impl_->resumeRowsPath.c_str(), rows.c_str()) != 0)
            detail::throwWriteError(rows, errno);
        impl_->resumeRowsPath = rows;
        impl_->stagingFolder->keep(false);
    }
    std::vector<std::string> notes;
    std::vector<CaptureSummary> summary = this->summary();
    switch (impl_->format) {
    case ExportFormat::NpyFolder: notes = impl_->commitFolder(); break;
    case ExportFormat::Npz: impl_->commitNpz(); break;
    case ExportFormat::Mat: impl_->commitMat(summary); break;
    case ExportFormat::Pt: impl_->commitPt(); break;
    case ExportFormat::Csv: impl_->commitCsv(rowLabel); break;
    case ExportFormat::Png: notes = impl_->commitPng(rowLabel); break;
    case ExportFormat::Hdf5: impl_->commitHdf5(manifestJson); break;
    }
    if (!manifestJson.empty())
        impl_->writeManifest(manifestJson);
    impl_->committed = true;
    // A killed --resume run of this output is obsolete now that a whole one is in place.
    if (!impl_->options.resumable && detail::removeStaleResumeState(impl_->path))
        notes.push_back("removed " + resumeStatePathFor(impl_->path)
                        + ", the state of an earlier --resume run that was killed: this complete output replaces it");
    return notes;
}

std::vector<std::string> CaptureWriter::Impl::commitFolder()
{
    // The staged files become the output: renamed, never copied.
    std::error_code ec;
    const bool exists = fs::is_directory(path, ec);
    const std::string folder = exists ? path : staging;
    for (std::size_t i = 0; i < arrays.size(); ++i) {
        const std::string target = folder + "/" + fileNameFor(arrays[i]->name()) + ".npy";
        if (std::rename(arrays[i]->file().c_str(), target.c_str()) != 0)
            detail::throwWriteError(target, errno);
    }
    if (!exists) {
        stagingFolder->moveTo(path);
        staging.clear();
    }
    return {};
}

void CaptureWriter::Impl::commitNpz()
{
    int code = 0;
    zip_t* archive = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
    if (!archive)
        throw Error(path + ": cannot write (libzip error " + std::to_string(code) + ")");
    for (const auto& array : arrays) {
        zip_source_t* source = zip_source_file(archive, array->file().c_str(), 0, -1);
        const zip_int64_t index
            = source ? zip_file_add(archive, (array->name() + ".npy").c_str(), source, ZIP_FL_ENC_UTF_8) : -1;
        if (index < 0) {
            if (source)
                zip_source_free(source);
            const std::string reason = zip_strerror(archive);
            zip_discard(archive);
            throw Error(path + ": cannot add '" + array->name() + "' (" + reason + ")");
        }
        zip_set_file_compression(archive, static_cast<zip_uint64_t>(index), ZIP_CM_STORE, 0);
    }
    // libzip writes a temporary file and renames it over `path` only when complete.
    if (zip_close(archive) != 0) {
        const std::string reason = zip_strerror(archive);
        zip_discard(archive);
        throw Error(path + ": cannot write (" + reason + ")");
    }
}

void CaptureWriter::Impl::commitMat(std::vector<CaptureSummary>& summary)
{
    std::vector<const detail::StagedArray*> staged;
    std::vector<std::string> variables;
    for (std::size_t i = 0; i < arrays.size(); ++i) {
        staged.push_back(arrays[i].get());
        variables.push_back(summary[i].storedAs);
    }
    const std::string temporary = staging + "/output.mat";
    detail::writeMatFile(temporary, options.matVersion, staged, variables);
    if (std::rename(temporary.c_str(), path.c_str()) != 0)
        detail::throwWriteError(path, errno);
}

void CaptureWriter::Impl::commitHdf5(const std::string& manifestJson)
{
    std::vector<const detail::StagedArray*> staged;
    for (const auto& array : arrays)
        staged.push_back(array.get());
    const std::string temporary = staging + "/output.h5";
    detail::writeHdf5File(temporary, staged, manifestJson, options.compression);
    if (std::rename(temporary.c_str(), path.c_str()) != 0)
        detail::throwWriteError(path, errno);
}

void CaptureWriter::Impl::commitPt()
{
    std::vector<const detail::StagedArray*> staged;
    for (const auto& array : arrays)
        staged.push_back(array.get());
    detail::writePtFile(path, staged); // the storages are copied from the staged files, not held in memory
}

void CaptureWriter::Impl::commitCsv(const std::function<std::string(std::int64_t)>& rowLabel)
{
    const std::int64_t rows = arrays.empty() ? 0 : arrays.front()->rows();
    for (const auto& array : arrays) {
        if (array->rows() != rows)
            throw Error(path + ": a CSV row holds one sample of every capture, but '" + array->name() + "' has "
                        + std::to_string(array->rows()) + " rows and '" + arrays.front()->name() + "' "
                        + std::to_string(rows));
    }
    detail::AtomicFile file(path);
    std::string line = "input";
    for (const auto& array : arrays) {
        const std::size_t perRow = array->rowBytes() / elementSize(array->dtype());
        for (std::size_t j = 0; j < perRow; ++j)
            line += "," + csvField(array->name() + "[" + std::to_string(j) + "]");
    }
    line += '\n';
    file.write(line.data(), line.size());

    std::vector<std::ifstream> inputs;
    for (const auto& array : arrays) {
        inputs.emplace_back(array->file(), std::ios::binary);
        inputs.back().seekg(static_cast<std::streamoff>(array->headerLength()));
    }
    std::vector<char> row;
    for (std::int64_t r = 0; r < rows; ++r) {
        line = csvField(rowLabel ? rowLabel(r) : std::to_string(r));
        for (std::size_t a = 0; a < arrays.size(); ++a) {
            const std::size_t bytes = arrays[a]->rowBytes(), width = elementSize(arrays[a]->dtype());
            row.resize(bytes);
            if (!inputs[a].read(row.data(), static_cast<std::streamsize>(bytes)))
                throw Error(path + ": staged capture '" + arrays[a]->name() + "' could not be read back");
            for (std::size_t offset = 0; offset < bytes; offset += width)
                line += "," + formatValue(row.data() + offset, arrays[a]->dtype());
        }
        line += '\n';
        file.write(line.data(), line.size());
    }
    file.commit();
}

std::vector<std::string> CaptureWriter::Impl::commitPng(const std::function<std::string(std::int64_t)>& rowLabel)
{
    // One grid per 4-D capture and row: out.png alone for one of each, else out.<capture>.<row>.png.
    std::vector<std::string> notes;
    const fs::path target(path);
    std::int64_t images = 0;
    for (const auto& array : arrays)
        images += array->shape().size() == 4 ? array->rows() : 0;
    for (const auto& array : arrays) {
        if (array->shape().size() != 4) {
            notes.push_back("'" + array->name() + "' is " + shapeToString(array->shape())
                            + ", not [N, C, H, W]: no channel grid drawn");
            continue;
        }
        const Tensor values = readNpy(array->file());
        for (std::int64_t r = 0; r < array->rows(); ++r) {
            std::string file = path;
            if (images > 1) {
                std::string label = rowLabel ? fs::path(rowLabel(r)).stem().string() : std::to_string(r);
                file = (target.parent_path()
                        / (target.stem().string() + "." + fileNameFor(array->name()) + "." + label + ".png"))
                           .string();
            }
            const auto png = encodePng(renderChannelGrid(values, r, options.grid));
            writeFileAtomically(file, png.data(), png.size());
        }
    }
    return notes;
}

std::vector<std::string> writeCaptures(const std::string& path, const std::vector<NamedTensor>& captures,
                                       const ExportOptions& options, const std::string& manifestJson)
{
    CaptureWriter writer(path, options);
    writer.append(captures);
    return writer.commit(manifestJson);
}

} // namespace layerscope
