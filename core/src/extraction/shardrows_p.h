#pragma once
// merge's view of a shard: each capture as a .npy file whose rows are read where they lie.

#include "formats/npyrows_p.h"

#include <memory>
#include <string>
#include <vector>

namespace layerscope::detail {

// A capture as the shard's manifest names it.
struct ShardCapture {
    std::string name, storedAs;
    std::vector<std::int64_t> shape;
};

// The captures of `shard`, in the order given. A folder of .npy files is read in place; the other
// formats are unpacked into .npy files in `staging` (named after `shardNumber`), holding one capture
// (.h5, .mat) or one shard (.npz, .pt: their readers take the whole file) in memory at a time.
// Throws layerscope::Error naming the shard and the cause (a capture missing from the file too).
std::vector<std::unique_ptr<NpyRowFile>> openShardRows(const std::string& shard,
                                                       const std::vector<ShardCapture>& captures,
                                                       const std::string& staging, std::size_t shardNumber);

} // namespace layerscope::detail
