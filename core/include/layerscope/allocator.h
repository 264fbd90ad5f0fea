#pragma once

namespace layerscope {

// glibc's malloc hands large buffers back to the kernel on every free (mmap/munmap, trimming), so
// each forward pays page faults for every activation again; LibTorch's CPU forward runs several
// times slower for it. Keeping freed memory in the process fixes that. Call once at start-up,
// before the first forward; the entry points do.
void keepFreedMemoryInProcess();

} // namespace layerscope
