// Unaligned little-endian reads for file headers (x86 and arm64 are little-endian;
// memcpy keeps the reads legal at any alignment).
#pragma once
#include <cstdint>
#include <cstring>

namespace etn {

template <typename T>
T readLE(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

}  // namespace etn
