#include "layerscope/runtime.h"

#include <ATen/Parallel.h>
#include <sched.h>

namespace layerscope {

void setComputeThreads(int threads)
{
    if (threads <= 0) {
        cpu_set_t set;
        threads = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    }
    at::set_num_threads(std::max(1, threads));
}

int computeThreads() { return at::get_num_threads(); }

} // namespace layerscope
