#include "model/namesuggest_p.h"

#include <algorithm>
#include <numeric>

namespace layerscope::detail {

namespace {

std::size_t editDistance(const std::string& a, const std::string& b)
{
    std::vector<std::size_t> row(b.size() + 1);
    std::iota(row.begin(), row.end(), 0);
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = up;
        }
    }
    return row[b.size()];
}

bool endsWith(const std::string& text, const std::string& suffix)
{
    return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

} // namespace

std::vector<std::string> closestNames(const std::string& query, const std::vector<std::string>& candidates,
                                      std::size_t count)
{
    std::vector<std::pair<std::size_t, std::string>> scored;
    for (const auto& candidate : candidates) {
        if (candidate.empty())
            continue;
        std::size_t score = editDistance(query, candidate);
        if (!query.empty() && (endsWith(candidate, "." + query) || candidate.find(query) != std::string::npos))
            score = std::min<std::size_t>(score, 1);
        scored.emplace_back(score, candidate);
    }
    std::stable_sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::string> result;
    const std::size_t limit = std::max<std::size_t>(3, query.size() / 2 + 1);
    for (const auto& [score, name] : scored) {
        if (result.size() == count || score > limit)
            break;
        result.push_back(name);
    }
    return result;
}

} // namespace layerscope::detail
