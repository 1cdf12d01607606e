// clamp with scalar or tensor bounds, and hardtanh. Bounds are applied as
// min(max(x, lo), hi) (so lo > hi gives hi, like PyTorch); a NaN input or
// bound gives NaN. The computation dtype is PyTorch's result type of the input
// and the bounds.
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "../kernel_util.h"

namespace etn {
namespace {

// PyTorch result type of several tensors: 0-dim tensors only lift the category.
ScalarType resultType(const std::vector<const Tensor*>& ts) {
  bool haveDim = false, haveZero = false;
  ScalarType dimT = ScalarType::Bool, zeroT = ScalarType::Bool;
  for (const Tensor* t : ts) {
    if (t == nullptr) continue;
    if (t->dim() == 0) {
      zeroT = haveZero ? promoteTypes(zeroT, t->dtype()) : t->dtype();
      haveZero = true;
    } else {
      dimT = haveDim ? promoteTypes(dimT, t->dtype()) : t->dtype();
      haveDim = true;
    }
  }
  if (!haveDim) return zeroT;
  if (!haveZero || isFloatingType(dimT)) return dimT;
  if (dimT == ScalarType::Bool || isFloatingType(zeroT)) return promoteTypes(dimT, zeroT);
  return dimT;
}

template <typename F>
void forEachOffsets(const std::vector<int64_t>& sizes,
                    const std::vector<std::vector<int64_t>>& strides, F&& fn) {
  int64_t n = 1;
  for (int64_t s : sizes) n *= s;
  if (n == 0) return;
  const size_t rank = sizes.size(), ops = strides.size();
  std::vector<int64_t> idx(rank, 0), off(ops, 0);
  for (int64_t linear = 0; linear < n; ++linear) {
    fn(off.data());
    for (size_t d = rank; d-- > 0;) {
      if (++idx[d] < sizes[d]) {
        for (size_t k = 0; k < ops; ++k) off[k] += strides[k][d];
        break;
      }
      for (size_t k = 0; k < ops; ++k) off[k] -= strides[k][d] * (sizes[d] - 1);
      idx[d] = 0;
    }
  }
}

double clampD(double x, const double* lo, const double* hi) {
  if (std::isnan(x)) return x;
  if (lo) {
    if (std::isnan(*lo)) return *lo;
    if (x < *lo) x = *lo;
  }
  if (hi) {
    if (std::isnan(*hi)) return *hi;
    if (x > *hi) x = *hi;
  }
  return x;
}

int64_t clampI(int64_t x, const int64_t* lo, const int64_t* hi) {
  if (lo && x < *lo) x = *lo;
  if (hi && x > *hi) x = *hi;
  return x;
}

// Clamp with optional scalar bounds in computation dtype ct.
void clampScalars(const KernelArgs& args, const Tensor& a, const std::optional<Scalar>& lo,
                  const std::optional<Scalar>& hi, Tensor& out, ScalarType ct) {
  checkLoadable(args, a, "self");
  checkLoadable(args, out, "out");
  args.resizeOut(out, a.sizes());
  if (isFloatingType(ct)) {
    const double l = lo ? roundTo(ct, lo->toDouble()) : 0, h = hi ? roundTo(ct, hi->toDouble()) : 0;
    const double* lp = lo ? &l : nullptr;
    const double* hp = hi ? &h : nullptr;
    forEachIndex2(a.sizes(), a.strides(), out.strides(), [&](int64_t, int64_t oa, int64_t oo) {
      const double x = roundTo(ct, loadDouble(a.data(), a.dtype(), oa));
      storeDouble(out.data(), out.dtype(), oo, clampD(x, lp, hp));
    });
  } else {
    // Integer computations never have floating bounds (they would have promoted ct).
    const int64_t l = lo ? lo->i : 0, h = hi ? hi->i : 0;
    const int64_t* lp = lo ? &l : nullptr;
    const int64_t* hp = hi ? &h : nullptr;
    const bool isBool = ct == ScalarType::Bool;
    forEachIndex2(a.sizes(), a.strides(), out.strides(), [&](int64_t, int64_t oa, int64_t oo) {
      int64_t x = loadInt(a.data(), a.dtype(), oa);
      if (isBool) x = x != 0 ? 1 : 0;
      storeInt(out.data(), out.dtype(), oo, clampI(x, lp, hp));
    });
  }
}

// clamp.out(Tensor self, Scalar? min=None, Scalar? max=None, *, Tensor(a!) out)
void clamp_out(KernelArgs& args) {
  args.expectCount(5);
  const Tensor& a = args.tensor(0);
  const std::optional<Scalar> lo = args.optScalar(1);
  const std::optional<Scalar> hi = args.optScalar(2);
  if (!lo && !hi)
    args.fail(ErrorCode::InvalidArgument, "at least one of 'min' or 'max' must not be None");
  ScalarType ct = a.dtype();
  if (lo) ct = promoteWithScalar(ct, *lo);
  if (hi) ct = promoteWithScalar(ct, *hi);
  clampScalars(args, a, lo, hi, args.tensor(3), ct);
}

// double -> int64 truncating, saturating at the int64 range (NaN -> 0).
int64_t truncSat(double v) {
  if (std::isnan(v)) return 0;
  if (v <= -9223372036854775808.0) return std::numeric_limits<int64_t>::min();
  if (v >= 9223372036854775808.0) return std::numeric_limits<int64_t>::max();
  return static_cast<int64_t>(v);
}

// hardtanh.out(Tensor self, Scalar min_val=-1, Scalar max_val=1, *, Tensor(a!) out)
void hardtanh_out(KernelArgs& args) {
  args.expectCount(5);
  const Tensor& a = args.tensor(0);
  if (a.dtype() == ScalarType::Bool)
    args.fail(ErrorCode::InvalidArgument, "hardtanh is not defined for bool tensors");
  Scalar lo = args.scalar(1), hi = args.scalar(2);
  if (!isFloatingType(a.dtype())) {
    // Integer input: bounds are converted to the input dtype.
    lo = Scalar{Scalar::Kind::Int, lo.isFloating() ? truncSat(lo.d) : lo.i, 0};
    hi = Scalar{Scalar::Kind::Int, hi.isFloating() ? truncSat(hi.d) : hi.i, 0};
  }
  clampScalars(args, a, lo, hi, args.tensor(3), a.dtype());
}

// clamp.Tensor_out(Tensor self, Tensor? min=None, Tensor? max=None, *, Tensor(a!) out)
void clamp_tensor_out(KernelArgs& args) {
  args.expectCount(5);
  const Tensor& a = args.tensor(0);
  const Tensor* lo = args.optTensor(1);
  const Tensor* hi = args.optTensor(2);
  Tensor& out = args.tensor(3);
  if (!lo && !hi)
    args.fail(ErrorCode::InvalidArgument, "at least one of 'min' or 'max' must not be None");
  checkLoadable(args, a, "self");
  if (lo) checkLoadable(args, *lo, "min");
  if (hi) checkLoadable(args, *hi, "max");
  checkLoadable(args, out, "out");
  const ScalarType ct = resultType({&a, lo, hi});
  std::vector<int64_t> sizes = a.sizes();
  if (lo) sizes = broadcastShapes(args, sizes, lo->sizes());
  if (hi) sizes = broadcastShapes(args, sizes, hi->sizes());
  args.resizeOut(out, sizes);
  const std::vector<int64_t> zero(sizes.size(), 0);
  const std::vector<std::vector<int64_t>> strides = {
      broadcastStrides(a, sizes), lo ? broadcastStrides(*lo, sizes) : zero,
      hi ? broadcastStrides(*hi, sizes) : zero, out.strides()};
  const bool fl = isFloatingType(ct);
  const bool isBool = ct == ScalarType::Bool;
  forEachOffsets(sizes, strides, [&](const int64_t* off) {
    if (fl) {
      const double x = roundTo(ct, loadDouble(a.data(), a.dtype(), off[0]));
      double l = 0, h = 0;
      if (lo) l = roundTo(ct, loadDouble(lo->data(), lo->dtype(), off[1]));
      if (hi) h = roundTo(ct, loadDouble(hi->data(), hi->dtype(), off[2]));
      storeDouble(out.data(), out.dtype(), off[3], clampD(x, lo ? &l : nullptr, hi ? &h : nullptr));
    } else {
      auto ld = [&](const Tensor& t, int64_t o) {
        const int64_t v = loadInt(t.data(), t.dtype(), o);
        return isBool ? (v != 0 ? int64_t{1} : int64_t{0}) : v;
      };
      const int64_t x = ld(a, off[0]);
      int64_t l = 0, h = 0;
      if (lo) l = ld(*lo, off[1]);
      if (hi) h = ld(*hi, off[2]);
      storeInt(out.data(), out.dtype(), off[3], clampI(x, lo ? &l : nullptr, hi ? &h : nullptr));
    }
  });
}

}  // namespace

ETN_REGISTER_KERNEL("aten::clamp.out", clamp_out);
ETN_REGISTER_KERNEL("aten::clamp.Tensor_out", clamp_tensor_out);
ETN_REGISTER_KERNEL("aten::hardtanh.out", hardtanh_out);

}  // namespace etn
