#include "layerscope/runtime.h"

#include <ATen/Parallel.h>
#include <omp.h>
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

void setComputeThreadsOfThisThread(int threads)
{
    // LibTorch sets each thread's OpenMP team size to the process-wide count when the thread first
    // asks for it; that happens first here, or it would undo what follows later.
    at::get_num_threads();
    omp_set_num_threads(std::max(1, threads)); // OpenMP keeps this per calling thread
}

} // namespace layerscope
