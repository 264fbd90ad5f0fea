#pragma once
// merge's list of rows, kept on disk: every shard's manifest rows are spooled to one file as the
// manifest is parsed, then read back in data-set order, a few rows per shard at a time. A job over
// millions of images would otherwise hold millions of rows in memory.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace layerscope::detail {

struct ManifestRow {
    std::int64_t datasetIndex = 0;
    std::int64_t row = 0; // in the shard's arrays
    std::string files;    // the row's "files", as JSON text
};

class RowSpool {
public:
    // Creates `path` (in a staging folder, which removes it). Throws layerscope::Error.
    explicit RowSpool(const std::string& path);
    ~RowSpool();
    RowSpool(const RowSpool&) = delete;
    RowSpool& operator=(const RowSpool&) = delete;

    // Shards are spooled one after another: beginShard(), its rows in the manifest's order, then the next.
    // A shard's rows must come in rising data-set order, as extract writes them; add() throws
    // std::invalid_argument otherwise (the caller names the manifest).
    void beginShard();
    void add(const ManifestRow& row);

    std::size_t shards() const { return shards_.size(); }
    std::size_t rows(std::size_t shard) const { return shards_[shard].rows; }
    std::size_t totalRows() const;
    // The smallest and largest array row a shard's manifest names (0 and -1 without rows).
    std::int64_t minRow(std::size_t shard) const { return shards_[shard].minRow; }
    std::int64_t maxRow(std::size_t shard) const { return shards_[shard].maxRow; }

    // Every shard's rows merged into data-set order (rows of one index from two shards: the lower shard
    // first). Call after the last add(); each call starts over.
    class Merge;
    std::unique_ptr<Merge> merge() const;

private:
    struct ShardRange {
        std::uint64_t begin = 0, end = 0; // bytes of the spool file
        std::size_t rows = 0;
        std::int64_t lastIndex = -1, minRow = 0, maxRow = -1;
    };
    void flush() const;

    std::string path_;
    int fd_ = -1;
    std::vector<ShardRange> shards_;
    mutable std::string pending_; // written by flush()
    std::uint64_t size_ = 0;      // of the file with pending_
};

class RowSpool::Merge {
public:
    virtual ~Merge() = default;
    // The next row in data-set order and its shard; false after the last.
    virtual bool next(ManifestRow& row, std::size_t& shard) = 0;
};

} // namespace layerscope::detail
