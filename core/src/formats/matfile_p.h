#pragma once
// MATLAB .mat output (libmatio).

#include "formats/stagedarray_p.h"

#include <string>
#include <vector>

namespace layerscope::detail {

// MATLAB variable names: letters, digits and '_', a letter first, at most 63 characters, unique.
std::vector<std::string> matlabVariableNames(const std::vector<std::string>& names);

// Writes staged arrays as a MATLAB v5 .mat file at `path` with libmatio (values as numpy sees them in
// scipy.io.loadmat), plus cell arrays `capture_names` and `variable_names` for the mapping.
// Throws layerscope::Error when `rows` rows of `rowBytes` make a variable MATLAB v5 cannot hold
// (2 GiB): checked after a run's first batch, from the rows to come, and again when writing.
void checkMatVariableSize(const std::string& path, const std::string& capture, std::int64_t rows, std::size_t rowBytes,
                          bool predicted);

// The variables `variables` of a .mat file (v5 or v7.3) as C-ordered tensors of the shapes MATLAB
// declares: the reverse of writeMatFile. Each variable's declared size is checked against `maxBytes`
// before it is read. Throws layerscope::Error naming the file.
std::vector<Tensor> readMatVariables(const std::string& path, const std::vector<std::string>& variables,
                                     std::uint64_t maxBytes);

// `version` as ExportOptions::matVersion.
void writeMatFile(const std::string& path, int version, const std::vector<const StagedArray*>& arrays,
                  const std::vector<std::string>& variableNames);

} // namespace layerscope::detail
