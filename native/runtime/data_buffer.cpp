#include "data_buffer.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

namespace etn {

std::shared_ptr<DataBuffer> DataBuffer::mapFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) fail(ErrorCode::NotFound, "no such file: ", path);
    fail(ErrorCode::IoError, "cannot open ", path, ": ", std::strerror(err));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    fail(ErrorCode::IoError, "cannot stat ", path, ": ", std::strerror(err));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    fail(ErrorCode::InvalidArgument, path, " is a directory, not a program file");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(ErrorCode::InvalidArgument, path, " is not a regular file");
  }
  if (st.st_size == 0) {
    ::close(fd);
    fail(ErrorCode::InvalidProgram, path, " is empty (0 bytes)");
  }
  void* p = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ | PROT_WRITE, MAP_PRIVATE,
                   fd, 0);
  const int err = errno;
  ::close(fd);
  if (p == MAP_FAILED) fail(ErrorCode::IoError, "cannot map ", path, ": ", std::strerror(err));
  std::shared_ptr<DataBuffer> buf(new DataBuffer());
  buf->data_ = static_cast<uint8_t*>(p);
  buf->size_ = static_cast<size_t>(st.st_size);
  buf->mapped_ = true;
  buf->name_ = path;
  return buf;
}

std::shared_ptr<DataBuffer> DataBuffer::copyOf(const void* data, size_t size,
                                               const std::string& name) {
  if (size == 0) fail(ErrorCode::InvalidProgram, name, " is empty (0 bytes)");
  // 64-byte alignment: flatbuffers and kernels expect aligned data, as in a mapping.
  const size_t rounded = (size + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded);
  if (p == nullptr) fail(ErrorCode::OutOfMemory, "cannot allocate ", size, " bytes for ", name);
  std::memcpy(p, data, size);
  std::memset(static_cast<uint8_t*>(p) + size, 0, rounded - size);
  std::shared_ptr<DataBuffer> buf(new DataBuffer());
  buf->data_ = static_cast<uint8_t*>(p);
  buf->size_ = size;
  buf->name_ = name;
  return buf;
}

void DataBuffer::releasePages(const void* p, size_t n) const {
  if (!mapped_ || n == 0) return;
  const uintptr_t a = reinterpret_cast<uintptr_t>(p), lo = reinterpret_cast<uintptr_t>(data_);
  if (a < lo || a - lo > size_ || n > size_ - (a - lo)) return;
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t start = (a + page - 1) / page * page, end = (a + n) / page * page;
  if (end > start) madvise(reinterpret_cast<void*>(start), end - start, MADV_DONTNEED);
}

DataBuffer::~DataBuffer() {
  if (data_ == nullptr) return;
  if (mapped_) {
    ::munmap(data_, size_);
  } else {
    std::free(data_);
  }
}

bool DataBuffer::range(uint64_t offset, uint64_t length, ByteSpan* out) const {
  if (offset > size_ || length > size_ - offset) return false;
  out->data = data_ + offset;
  out->size = static_cast<size_t>(length);
  return true;
}

}  // namespace etn
