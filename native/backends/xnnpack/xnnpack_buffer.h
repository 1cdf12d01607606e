// Memory the XNNPACK delegate hands to XNNPACK: a padded, aligned float buffer,
// and the test for whether memory we do not own can be read by XNNPACK in place.
// XNNPACK may read XNN_EXTRA_BYTES past the end of an input.
#pragma once
#include <unistd.h>
#include <xnnpack.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "../../runtime/error.h"
#include "../../runtime/large_alloc.h"

namespace etn {
namespace xnnpack {

constexpr size_t kPadBytes = 64;  // slack after our buffers (XNNPACK may read XNN_EXTRA_BYTES past the end)
constexpr uint64_t kMaxElements = uint64_t(1) << 36;  // 256 GiB of floats: beyond that a shape is absurd

// A 64-byte aligned float buffer with slack after the end; grows, never shrinks.
class Buffer {
 public:
  Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& o) noexcept : p_(o.p_), cap_(o.cap_), bytes_(o.bytes_) {
    o.p_ = nullptr;
    o.cap_ = o.bytes_ = 0;
  }
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      largeFree(p_, bytes_);
      p_ = o.p_;
      cap_ = o.cap_;
      bytes_ = o.bytes_;
      o.p_ = nullptr;
      o.cap_ = o.bytes_ = 0;
    }
    return *this;
  }
  ~Buffer() { largeFree(p_, bytes_); }
  // limitBytes: the program's memoryLimit (0: this machine's physical memory).
  float* ensure(size_t floats, uint64_t limitBytes) {
    if (floats > cap_ || p_ == nullptr) {
      const size_t bytes = ((floats * sizeof(float) + kPadBytes + 63) / 64) * 64;
      const size_t limit = limitBytes ? static_cast<size_t>(limitBytes / sizeof(float)) : maxFloats();
      if (floats > limit)
        fail(ErrorCode::OutOfMemory, "XnnpackBackend: a tensor of ", floats * sizeof(float),
             " bytes is over the memory limit of ", limit * sizeof(float), " bytes");
      void* q = largeAlloc(bytes);
      if (q == nullptr)
        fail(ErrorCode::OutOfMemory, "XnnpackBackend: cannot allocate ", floats * sizeof(float), " bytes");
      // Only the slack is cleared: the data part is always written before it is read.
      std::memset(static_cast<uint8_t*>(q) + floats * sizeof(float), 0, bytes - floats * sizeof(float));
      largeFree(p_, bytes_);
      p_ = static_cast<float*>(q);
      cap_ = floats;
      bytes_ = bytes;
    }
    return p_;
  }
  float* data() const { return p_; }

 private:
  static size_t maxFloats() {
    static const size_t limit = [] {
      const long pages = sysconf(_SC_PHYS_PAGES), pageSize = sysconf(_SC_PAGESIZE);
      if (pages <= 0 || pageSize <= 0) return static_cast<size_t>(kMaxElements);
      return static_cast<size_t>(static_cast<uint64_t>(pages) * static_cast<uint64_t>(pageSize) / sizeof(float));
    }();
    return limit;
  }
  float* p_ = nullptr;
  size_t cap_ = 0;
  size_t bytes_ = 0;  // allocated, for largeFree
};

// True when XNNPACK may read XNN_EXTRA_BYTES past [p, p+bytes) without leaving
// the page of the last byte (so the read cannot fault), and p is float-aligned.
inline bool safeForXnn(const void* p, size_t bytes) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  if (a % alignof(float) != 0) return false;
  if (bytes == 0) return true;
  const uintptr_t last = a + bytes - 1;
  const uintptr_t end = last + XNN_EXTRA_BYTES;
  return (last >> 12) == (end >> 12);
}

}  // namespace xnnpack
}  // namespace etn
