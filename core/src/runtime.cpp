#include "layerscope/runtime.h"

#include <opencv2/core/utility.hpp>

#include <malloc.h>

namespace layerscope {

void keepFreedMemoryInProcess()
{
    // As MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ at 1 GiB: a batch's activations (resnet18's
    // first convolution alone is 51 MB at batch 16) stay in the heap for the next forward. Without
    // effect where the executable links tcmalloc, which never returns them eagerly anyway.
    mallopt(M_MMAP_THRESHOLD, 1024 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
    mallopt(M_TOP_PAD, 64 * 1024 * 1024);
}

void useSingleThreadedImageCodecs() { cv::setNumThreads(1); }

} // namespace layerscope
