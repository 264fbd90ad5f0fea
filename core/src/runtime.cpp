#include "layerscope/runtime.h"

#include <opencv2/core/utility.hpp>

#include <malloc.h>

namespace layerscope {

void keepFreedMemoryInProcess()
{
    // 32 MiB is the largest mmap threshold glibc accepts on 64-bit; larger blocks are rare enough.
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
    mallopt(M_TOP_PAD, 64 * 1024 * 1024);
}

void useSingleThreadedImageCodecs()
{
    cv::setNumThreads(1);
}

} // namespace layerscope
