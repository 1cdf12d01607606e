#include "large_alloc.h"

#include <sys/mman.h>

#include <cstdlib>

namespace etn {
namespace {

constexpr size_t kMapThreshold = size_t(1) << 20;

}  // namespace

void* largeAlloc(size_t bytes) {
  if (bytes < kMapThreshold) return std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

void largeFree(void* p, size_t bytes) {
  if (p == nullptr) return;
  if (bytes < kMapThreshold)
    std::free(p);
  else
    munmap(p, bytes);
}

}  // namespace etn
