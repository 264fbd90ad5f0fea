#pragma once
// Process-wide settings that make LibTorch's CPU forward fast out of the box. The entry points
// call configureRuntime() once at start-up, before the first forward.

namespace layerscope {

// glibc's malloc hands large buffers back to the kernel on every free (mmap/munmap, trimming), so
// each forward pays page faults for every activation again. Keeping freed memory in the process
// avoids that.
void keepFreedMemoryInProcess();

// LibTorch picks its thread count from the physical cores it detects, which on some virtual
// machines is 1 of 2; use every core the process may run on unless told otherwise (threads > 0).
void setComputeThreads(int threads = 0);
int computeThreads();

// For a thread that runs forwards beside other such threads (the streams of an extraction): its
// forwards use `threads` compute threads; the forwards of every other thread are unaffected.
void setComputeThreadsOfThisThread(int threads);

// Images are decoded several at a time on worker threads; OpenCV's own thread pool inside each
// decode would only compete with them and with LibTorch for the cores.
void useSingleThreadedImageCodecs();

inline void configureRuntime(int threads = 0)
{
    keepFreedMemoryInProcess();
    setComputeThreads(threads);
    useSingleThreadedImageCodecs();
}

} // namespace layerscope
