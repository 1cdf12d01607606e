// Immutable bytes the engine reads programs and weights from: a file mapped
// into memory (the usual case: weights are never copied) or a private aligned
// copy of a caller's buffer.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace etn {

struct ByteSpan {
  const uint8_t* data = nullptr;
  size_t size = 0;
};

class DataBuffer {
 public:
  // Maps `path` copy-on-write (a stray write from a buggy kernel lands in a
  // private page instead of crashing on a read-only one). Throws NotFound /
  // IoError / InvalidArgument (directory) / InvalidProgram (empty file).
  static std::shared_ptr<DataBuffer> mapFile(const std::string& path);
  static std::shared_ptr<DataBuffer> copyOf(const void* data, size_t size, const std::string& name);

  ~DataBuffer();
  DataBuffer(const DataBuffer&) = delete;
  DataBuffer& operator=(const DataBuffer&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& name() const { return name_; }  // path or "<buffer>", for messages
  // Bounds-checked sub-range; nullopt-like empty span with ok=false when out of range.
  bool range(uint64_t offset, uint64_t length, ByteSpan* out) const;
  // Gives the whole pages inside [p, p + n) of a mapped file back to the OS once
  // their contents live elsewhere (weights packed into another layout). A later
  // read faults them in again from the file, so this is safe even if another user
  // of the same bytes comes along. No-op for copies and for ranges outside this buffer.
  void releasePages(const void* p, size_t n) const;

 private:
  DataBuffer() = default;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
  std::string name_;
};

}  // namespace etn
