// Shared helpers for the portable kernels: element load/store across dtypes,
// PyTorch type promotion, broadcasting and dim normalisation. Portable kernels
// favour clarity and exactness over speed: float math is done in double and
// rounded once on store, integer math in int64.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

#include "../runtime/kernel_args.h"
#include "../runtime/kernel_registry.h"
#include "../runtime/scalar_type.h"
#include "../runtime/tensor.h"

namespace etn {

// Reads element `idx` (in elements, not bytes) of `base` as double / int64.
double loadDouble(const void* base, ScalarType t, int64_t idx);
int64_t loadInt(const void* base, ScalarType t, int64_t idx);
// Writes a value converted to the tensor dtype (float->int truncates like a C cast;
// anything->bool is != 0).
void storeDouble(void* base, ScalarType t, int64_t idx, double v);
void storeInt(void* base, ScalarType t, int64_t idx, int64_t v);

// Fails with NotSupported unless the tensor dtype can be loaded/stored above.
void checkLoadable(const KernelArgs& args, const Tensor& t, const char* what);

// PyTorch's promote_types for two tensor dtypes.
ScalarType promoteTypes(ScalarType a, ScalarType b);
// The result dtype of `tensor op scalar` (a scalar only lifts the category:
// int tensor + float scalar -> default float; bool tensor + int scalar -> int64).
ScalarType promoteWithScalar(ScalarType tensorType, const Scalar& s);

// Broadcast two shapes (numpy rules); fails with InvalidArgument naming the op.
std::vector<int64_t> broadcastShapes(const KernelArgs& args, const std::vector<int64_t>& a,
                                     const std::vector<int64_t>& b);
// Strides (in elements) of `t` seen through a broadcast to `outSizes` (0 on broadcast dims).
std::vector<int64_t> broadcastStrides(const Tensor& t, const std::vector<int64_t>& outSizes);

// Calls fn(outLinearIndex, offsetA, offsetB) for each element of a contiguous
// output of shape outSizes, with element offsets computed from the given strides.
template <typename F>
void forEachIndex2(const std::vector<int64_t>& outSizes, const std::vector<int64_t>& sa,
                   const std::vector<int64_t>& sb, F&& fn) {
  const size_t rank = outSizes.size();
  int64_t n = 1;
  for (int64_t s : outSizes) n *= s;
  if (n == 0) return;
  std::vector<int64_t> idx(rank, 0);
  int64_t offA = 0, offB = 0;
  for (int64_t linear = 0; linear < n; ++linear) {
    fn(linear, offA, offB);
    for (size_t d = rank; d-- > 0;) {
      if (++idx[d] < outSizes[d]) {
        offA += sa[d];
        offB += sb[d];
        break;
      }
      offA -= sa[d] * (outSizes[d] - 1);
      offB -= sb[d] * (outSizes[d] - 1);
      idx[d] = 0;
    }
  }
}

template <typename F>
void forEachIndex3(const std::vector<int64_t>& outSizes, const std::vector<int64_t>& sa,
                   const std::vector<int64_t>& sb, const std::vector<int64_t>& sc, F&& fn) {
  const size_t rank = outSizes.size();
  int64_t n = 1;
  for (int64_t s : outSizes) n *= s;
  if (n == 0) return;
  std::vector<int64_t> idx(rank, 0);
  int64_t offA = 0, offB = 0, offC = 0;
  for (int64_t linear = 0; linear < n; ++linear) {
    fn(linear, offA, offB, offC);
    for (size_t d = rank; d-- > 0;) {
      if (++idx[d] < outSizes[d]) {
        offA += sa[d];
        offB += sb[d];
        offC += sc[d];
        break;
      }
      offA -= sa[d] * (outSizes[d] - 1);
      offB -= sb[d] * (outSizes[d] - 1);
      offC -= sc[d] * (outSizes[d] - 1);
      idx[d] = 0;
    }
  }
}

// Element offset of each element of `t` in logical (row-major) order, honouring
// its dim order. Calls fn(logicalIndex, offset).
template <typename F>
void forEachElement(const Tensor& t, F&& fn) {
  std::vector<int64_t> zero(t.sizes().size(), 0);
  forEachIndex2(t.sizes(), t.strides(), zero, [&](int64_t i, int64_t off, int64_t) { fn(i, off); });
}

// Rounds a double to the precision of a floating dtype (identity for double
// and non-floating types): "compute in double, round once" for every kernel.
inline double roundTo(ScalarType t, double v) {
  switch (t) {
    case ScalarType::Float: return static_cast<double>(static_cast<float>(v));
    case ScalarType::Half: return halfToFloat(floatToHalf(static_cast<float>(v)));
    case ScalarType::BFloat16: return bf16ToFloat(floatToBf16(static_cast<float>(v)));
    default: return v;
  }
}

// PyTorch's result type of two tensor operands: a 0-dim tensor beside a
// dimensioned one only counts when it is of a higher category
// (bool < integer < floating).
ScalarType resultType(const Tensor& a, const Tensor& b);

// Two's-complement int64 arithmetic without signed-overflow UB (PyTorch wraps).
inline int64_t wrapAdd(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}
inline int64_t wrapMul(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
}
inline int64_t wrapNeg(int64_t a) { return static_cast<int64_t>(0 - static_cast<uint64_t>(a)); }

// Wraps a possibly negative dim into [0, rank); rank 0 accepts -1 and 0.
int64_t normalizeDim(const KernelArgs& args, int64_t dim, int64_t rank);

// Fails with NotSupported unless the tensor uses the default (contiguous) dim order.
void requireContiguous(const KernelArgs& args, const Tensor& t, const char* what);

// Fails with InvalidArgument unless a and b have equal dtypes.
void requireSameDtype(const KernelArgs& args, const Tensor& a, const Tensor& b, const char* what);

}  // namespace etn
