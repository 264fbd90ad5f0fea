#pragma once

#include <stdexcept>
#include <string>

namespace layerscope {

// Every failure the engine reports to a user: one line that names the file or module and the cause.
// Never carries a LibTorch backtrace.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

} // namespace layerscope
