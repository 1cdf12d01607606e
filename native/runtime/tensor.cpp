#include "tensor.h"

#include <sstream>

#include "error.h"

namespace etn {

namespace {
int64_t product(const std::vector<int64_t>& v) {
  int64_t n = 1;
  for (int64_t s : v) n *= s;
  return n;
}
}  // namespace

std::string formatSizes(const std::vector<int64_t>& sizes) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < sizes.size(); ++i) os << (i ? ", " : "") << sizes[i];
  os << "]";
  return os.str();
}

Tensor::Tensor(ScalarType dtype, std::vector<int64_t> sizes, std::vector<uint8_t> dimOrder,
               ShapeDynamism dynamism)
    : dtype_(dtype), sizes_(sizes), boundSizes_(std::move(sizes)),
      dimOrder_(std::move(dimOrder)), dynamism_(dynamism) {
  if (dimOrder_.size() != sizes_.size()) {
    dimOrder_.resize(sizes_.size());
    for (size_t i = 0; i < dimOrder_.size(); ++i) dimOrder_[i] = static_cast<uint8_t>(i);
  }
  numel_ = product(sizes_);
  boundNumel_ = numel_;
  recomputeStrides();
}

bool Tensor::isContiguous() const {
  for (size_t i = 0; i < dimOrder_.size(); ++i)
    if (dimOrder_[i] != i) return false;
  return true;
}

void Tensor::recomputeStrides() {
  // dim_order lists dims from outermost to innermost in memory.
  strides_.assign(sizes_.size(), 1);
  int64_t stride = 1;
  for (size_t k = dimOrder_.size(); k-- > 0;) {
    const size_t d = dimOrder_[k];
    strides_[d] = stride;
    stride *= sizes_[d] > 0 ? sizes_[d] : 1;
  }
}

void Tensor::resize(const std::vector<int64_t>& newSizes, const char* what) {
  if (newSizes == sizes_) return;
  if (newSizes.size() != sizes_.size())
    fail(ErrorCode::InvalidArgument, what, " has rank ", sizes_.size(), ", cannot resize to ",
         formatSizes(newSizes));
  for (int64_t s : newSizes)
    if (s < 0) fail(ErrorCode::InvalidArgument, what, ": negative size in ", formatSizes(newSizes));
  const int64_t n = product(newSizes);
  if (dynamism_ == ShapeDynamism::Static)
    fail(ErrorCode::InvalidArgument, what, " is static ", describe(), ", cannot resize to ",
         formatSizes(newSizes));
  if (n > boundNumel_)
    fail(ErrorCode::InvalidArgument, what, " ", formatSizes(newSizes),
         " exceeds its dynamic bound ", formatSizes(boundSizes_));
  sizes_ = newSizes;
  numel_ = n;
  recomputeStrides();
}

std::string Tensor::describe() const {
  return std::string(scalarTypeName(dtype_)) + formatSizes(sizes_);
}

}  // namespace etn
