// merge's rows on disk: a record per row (data-set index, array row, length of the files JSON, the JSON),
// every shard's records one after another; read back through a buffer per shard and a heap.

#include "extraction/rowspool_p.h"

#include "layerscope/error.h"

#include <cerrno>
#include <cstring>
#include <queue>
#include <stdexcept>

#include <fcntl.h>
#include <unistd.h>

namespace layerscope::detail {

namespace {

constexpr std::size_t kWriteBuffer = std::size_t(1) << 20;
constexpr std::size_t kReadBuffer = std::size_t(16) << 10; // a job array of 1000 shards reads with 16 MiB
constexpr std::size_t kHeaderBytes = 8 + 8 + 4;

template <typename T> void put(std::string& out, T value)
{
    out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

// One shard's records, read sequentially with pread.
class Cursor {
public:
    Cursor(int fd, std::uint64_t begin, std::uint64_t end, const std::string& path)
        : fd_(fd)
        , offset_(begin)
        , end_(end)
        , path_(path)
    {
    }

    bool read(ManifestRow& row)
    {
        if (available() == 0 && offset_ == end_)
            return false;
        char header[kHeaderBytes];
        take(header, kHeaderBytes);
        std::uint32_t length = 0;
        std::memcpy(&row.datasetIndex, header, 8);
        std::memcpy(&row.row, header + 8, 8);
        std::memcpy(&length, header + 16, 4);
        row.files.resize(length);
        take(row.files.data(), length);
        return true;
    }

private:
    std::size_t available() const { return buffer_.size() - position_; }

    void take(char* out, std::size_t bytes)
    {
        while (bytes > 0) {
            if (available() == 0)
                refill();
            const std::size_t n = std::min(bytes, available());
            std::memcpy(out, buffer_.data() + position_, n);
            position_ += n;
            out += n;
            bytes -= n;
        }
    }

    void refill()
    {
        const std::size_t want = std::size_t(std::min<std::uint64_t>(kReadBuffer, end_ - offset_));
        if (want == 0)
            throw Error(path_ + ": merge's row list ends early");
        buffer_.resize(want);
        std::size_t got = 0;
        while (got < want) {
            const ssize_t n = ::pread(fd_, buffer_.data() + got, want - got, off_t(offset_ + got));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                throw Error(path_ + ": cannot read merge's row list back: " + std::strerror(n < 0 ? errno : EIO));
            got += std::size_t(n);
        }
        offset_ += want;
        position_ = 0;
    }

    int fd_;
    std::uint64_t offset_, end_;
    const std::string& path_;
    std::string buffer_;
    std::size_t position_ = 0;
};

class HeapMerge : public RowSpool::Merge {
public:
    explicit HeapMerge(std::vector<Cursor> cursors)
        : cursors_(std::move(cursors))
        , heads_(cursors_.size())
    {
        for (std::size_t s = 0; s < cursors_.size(); ++s)
            advance(s);
    }

    bool next(ManifestRow& row, std::size_t& shard) override
    {
        if (queue_.empty())
            return false;
        shard = queue_.top().second;
        queue_.pop();
        row = std::move(heads_[shard]);
        advance(shard);
        return true;
    }

private:
    void advance(std::size_t shard)
    {
        if (cursors_[shard].read(heads_[shard]))
            queue_.emplace(heads_[shard].datasetIndex, shard);
    }

    using Key = std::pair<std::int64_t, std::size_t>; // data-set index, shard: the smallest first
    std::vector<Cursor> cursors_;
    std::vector<ManifestRow> heads_;
    std::priority_queue<Key, std::vector<Key>, std::greater<Key>> queue_;
};

} // namespace

RowSpool::RowSpool(const std::string& path)
    : path_(path)
{
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd_ < 0)
        throw Error(path + ": cannot create merge's row list: " + std::strerror(errno));
}

RowSpool::~RowSpool()
{
    if (fd_ >= 0)
        ::close(fd_);
}

void RowSpool::beginShard() { shards_.push_back({size_, size_, 0, -1, 0, -1}); }

void RowSpool::add(const ManifestRow& row)
{
    ShardRange& shard = shards_.back();
    if (row.datasetIndex < 0)
        throw std::invalid_argument("a row's dataset_index is " + std::to_string(row.datasetIndex));
    if (row.datasetIndex <= shard.lastIndex)
        throw std::invalid_argument("its rows are not in data-set order (dataset_index "
                                    + std::to_string(row.datasetIndex) + " after " + std::to_string(shard.lastIndex)
                                    + ")");
    if (row.files.size() > UINT32_MAX)
        throw std::length_error("a row's files list is longer than 4 GiB");
    shard.lastIndex = row.datasetIndex;
    shard.minRow = shard.rows == 0 ? row.row : std::min(shard.minRow, row.row);
    shard.maxRow = shard.rows == 0 ? row.row : std::max(shard.maxRow, row.row);
    ++shard.rows;
    put(pending_, row.datasetIndex);
    put(pending_, row.row);
    put(pending_, std::uint32_t(row.files.size()));
    pending_ += row.files;
    size_ += kHeaderBytes + row.files.size();
    shard.end = size_;
    if (pending_.size() >= kWriteBuffer)
        flush();
}

void RowSpool::flush() const
{
    const char* data = pending_.data();
    std::size_t left = pending_.size();
    while (left > 0) {
        const ssize_t n = ::write(fd_, data, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            throw Error(path_ + ": cannot write merge's row list: " + std::strerror(n < 0 ? errno : ENOSPC));
        data += n;
        left -= std::size_t(n);
    }
    pending_.clear();
}

std::size_t RowSpool::totalRows() const
{
    std::size_t total = 0;
    for (const ShardRange& shard : shards_)
        total += shard.rows;
    return total;
}

std::unique_ptr<RowSpool::Merge> RowSpool::merge() const
{
    flush();
    std::vector<Cursor> cursors;
    for (const ShardRange& shard : shards_)
        cursors.emplace_back(fd_, shard.begin, shard.end, path_);
    return std::make_unique<HeapMerge>(std::move(cursors));
}

} // namespace layerscope::detail
