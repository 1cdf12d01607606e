// A tensor as the engine sees it: dtype, current sizes within a serialized upper
// bound, dim order, and a data pointer that belongs to someone else (the mapped
// file, a planned buffer, or the caller's input).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "scalar_type.h"

namespace etn {

enum class ShapeDynamism : uint8_t { Static = 0, DynamicBound = 1, DynamicUnbound = 2 };

class Tensor {
 public:
  Tensor() = default;
  // sizes are the serialized (upper-bound) sizes; the tensor starts at them.
  Tensor(ScalarType dtype, std::vector<int64_t> sizes, std::vector<uint8_t> dimOrder,
         ShapeDynamism dynamism);

  ScalarType dtype() const { return dtype_; }
  const std::vector<int64_t>& sizes() const { return sizes_; }
  const std::vector<int64_t>& strides() const { return strides_; }  // in elements
  const std::vector<uint8_t>& dimOrder() const { return dimOrder_; }
  const std::vector<int64_t>& boundSizes() const { return boundSizes_; }
  ShapeDynamism dynamism() const { return dynamism_; }
  int64_t dim() const { return static_cast<int64_t>(sizes_.size()); }
  int64_t size(int64_t d) const { return sizes_[static_cast<size_t>(d)]; }
  int64_t numel() const { return numel_; }
  size_t elementSize() const { return etn::elementSize(dtype_); }
  size_t nbytes() const { return static_cast<size_t>(numel_) * elementSize(); }
  // Bytes the tensor may grow to: numel of the bound sizes times the element size.
  size_t capacityBytes() const { return static_cast<size_t>(boundNumel_) * elementSize(); }
  int64_t boundNumel() const { return boundNumel_; }
  bool isContiguous() const;  // default dim order (0, 1, ..., n-1)

  void* data() const { return data_; }
  template <typename T>
  T* dataAs() const { return static_cast<T*>(data_); }
  void setData(void* p) { data_ = p; }
  // Whether reading up to kReadSlack bytes past the end of the data cannot fault
  // (planned memory has that slack), so vector kernels may over-read in place.
  static constexpr size_t kReadSlack = 64;
  bool overreadable() const { return overreadable_; }
  void setOverreadable(bool v) { overreadable_ = v; }

  // Changes the sizes within the bound: static tensors must keep their sizes,
  // dynamic-bound ones may not exceed the bound's element count. Throws
  // InvalidArgument naming `what` otherwise.
  void resize(const std::vector<int64_t>& newSizes, const char* what = "tensor");
  std::string describe() const;  // "float32[2, 3]"

 private:
  void recomputeStrides();

  ScalarType dtype_ = ScalarType::Float;
  std::vector<int64_t> sizes_;
  std::vector<int64_t> boundSizes_;
  std::vector<int64_t> strides_;
  std::vector<uint8_t> dimOrder_;
  ShapeDynamism dynamism_ = ShapeDynamism::Static;
  int64_t numel_ = 1;
  int64_t boundNumel_ = 1;
  void* data_ = nullptr;
  bool overreadable_ = false;
};

std::string formatSizes(const std::vector<int64_t>& sizes);

}  // namespace etn
