#pragma once

#include <string>
#include <vector>

namespace layerscope::detail {

// The candidates closest to `query` by edit distance (a candidate that contains the query, or ends
// like it, ranks first), at most `count`, for "did you mean" messages.
std::vector<std::string> closestNames(const std::string& query, const std::vector<std::string>& candidates,
                                      std::size_t count);

} // namespace layerscope::detail
