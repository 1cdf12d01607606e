// Memory for big, long-lived buffers (packed weights, activation scratch): 64-byte
// aligned, from mmap above 1 MiB so that freeing it returns it to the OS at once
// (glibc keeps freed heap memory below its dynamic mmap threshold, which grows to
// 32 MiB, so a disposed program would otherwise leave hundreds of MB in the process).
#pragma once
#include <cstddef>

namespace etn {

// nullptr when out of memory. Contents are zero for mapped sizes, unspecified otherwise.
void* largeAlloc(size_t bytes);
// `bytes` must be what was passed to largeAlloc.
void largeFree(void* p, size_t bytes);

}  // namespace etn
