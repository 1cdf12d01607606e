// Reductions over a set of dims: sum, mean, amax, amin, argmax, argmin, any.
// An empty or absent dim list reduces every dim. Floating accumulation is in
// double, integer accumulation in (wrapping) int64; results are stored once.
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "../kernel_util.h"

namespace etn {
namespace {

// Which dims are reduced, the output shape, and for every input dim the stride
// of the (logical, row-major) output index it contributes to (0 when reduced).
struct ReducePlan {
  std::vector<bool> reduced;
  std::vector<int64_t> outSizes;
  std::vector<int64_t> outStrides;  // per input dim
  int64_t outNumel = 1;
  int64_t count = 1;  // input elements per output element
};

ReducePlan makePlan(const KernelArgs& args, const Tensor& self,
                    const std::optional<std::vector<int64_t>>& dims, bool keepdim) {
  const int64_t rank = self.dim();
  ReducePlan p;
  p.reduced.assign(static_cast<size_t>(rank), false);
  if (!dims || dims->empty()) {
    p.reduced.assign(static_cast<size_t>(rank), true);
  } else {
    for (int64_t d : *dims) {
      const int64_t nd = normalizeDim(args, d, rank);
      if (rank == 0) continue;  // a 0-dim tensor accepts dim 0 / -1 and reduces nothing
      if (p.reduced[static_cast<size_t>(nd)])
        args.fail(ErrorCode::InvalidArgument, "dim ", nd, " appears multiple times in the dim list");
      p.reduced[static_cast<size_t>(nd)] = true;
    }
  }
  for (int64_t d = 0; d < rank; ++d) {
    if (p.reduced[static_cast<size_t>(d)]) {
      p.count *= self.size(d);
      if (keepdim) p.outSizes.push_back(1);
    } else {
      p.outSizes.push_back(self.size(d));
      p.outNumel *= self.size(d);
    }
  }
  p.outStrides.assign(static_cast<size_t>(rank), 0);
  int64_t stride = 1;
  for (int64_t d = rank; d-- > 0;) {
    if (p.reduced[static_cast<size_t>(d)]) continue;
    p.outStrides[static_cast<size_t>(d)] = stride;
    stride *= self.size(d);
  }
  return p;
}

// Calls fn(inputOffset, outputLogicalIndex, linearInputIndex) for every input
// element in logical order.
template <typename F>
void forEachInput(const Tensor& self, const ReducePlan& p, F&& fn) {
  forEachIndex2(self.sizes(), self.strides(), p.outStrides,
                [&](int64_t linear, int64_t off, int64_t outIdx) { fn(off, outIdx, linear); });
}

void requireNonEmptyReduction(const KernelArgs& args, const Tensor& self, const ReducePlan& p) {
  for (int64_t d = 0; d < self.dim(); ++d)
    if (p.reduced[static_cast<size_t>(d)] && self.size(d) == 0)
      args.fail(ErrorCode::InvalidArgument, "cannot reduce over dim ", d,
                " of size 0 (no identity for this reduction)");
}

void checkDtypeArg(const KernelArgs& args, size_t i, const Tensor& out) {
  const std::optional<ScalarType> dt = args.optScalarType(i);
  if (dt && *dt != out.dtype())
    args.fail(ErrorCode::InvalidArgument, "dtype ", scalarTypeName(*dt),
              " does not match the out dtype ", scalarTypeName(out.dtype()));
}

// Sum (or mean when `mean`) into out, accumulating in out's dtype category.
void sumImpl(const KernelArgs& args, const Tensor& self,
             const std::optional<std::vector<int64_t>>& dims, bool keepdim, Tensor& out, bool mean) {
  checkLoadable(args, self, "self");
  checkLoadable(args, out, "out");
  const ReducePlan p = makePlan(args, self, dims, keepdim);
  args.resizeOut(out, p.outSizes);
  const ScalarType to = out.dtype();
  if (isFloatingType(to)) {
    std::vector<double> acc(static_cast<size_t>(p.outNumel), 0.0);
    forEachInput(self, p, [&](int64_t off, int64_t o, int64_t) {
      acc[static_cast<size_t>(o)] += roundTo(to, loadDouble(self.data(), self.dtype(), off));
    });
    forEachElement(out, [&](int64_t i, int64_t off) {
      double v = acc[static_cast<size_t>(i)];
      if (mean) v /= static_cast<double>(p.count);
      storeDouble(out.data(), to, off, v);
    });
  } else {
    std::vector<int64_t> acc(static_cast<size_t>(p.outNumel), 0);
    forEachInput(self, p, [&](int64_t off, int64_t o, int64_t) {
      acc[static_cast<size_t>(o)] =
          wrapAdd(acc[static_cast<size_t>(o)], loadInt(self.data(), self.dtype(), off));
    });
    forEachElement(out, [&](int64_t i, int64_t off) {
      storeInt(out.data(), to, off, acc[static_cast<size_t>(i)]);
    });
  }
}

// sum.IntList_out(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None, Tensor(a!) out)
void sum_intlist_out(KernelArgs& args) {
  args.expectCount(6);
  Tensor& out = args.tensor(4);
  checkDtypeArg(args, 3, out);
  sumImpl(args, args.tensor(0), args.optIntList(1), args.toBool(2), out, false);
}

// sum.out(Tensor self, *, ScalarType? dtype=None, Tensor(a!) out)
void sum_out(KernelArgs& args) {
  args.expectCount(4);
  Tensor& out = args.tensor(2);
  checkDtypeArg(args, 1, out);
  sumImpl(args, args.tensor(0), std::nullopt, false, out, false);
}

void checkMeanDtypes(const KernelArgs& args, const Tensor& self, size_t dtypeArg, const Tensor& out) {
  const std::optional<ScalarType> dt = args.optScalarType(dtypeArg);
  if (!dt && !isFloatingType(self.dtype()))
    args.fail(ErrorCode::InvalidArgument,
              "could not infer output dtype: input dtype must be floating point, got ",
              scalarTypeName(self.dtype()));
  if (!isFloatingType(out.dtype()))
    args.fail(ErrorCode::InvalidArgument, "out must be floating point, got ",
              scalarTypeName(out.dtype()));
  checkDtypeArg(args, dtypeArg, out);
}

// mean.out(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None, Tensor(a!) out)
void mean_out(KernelArgs& args) {
  args.expectCount(6);
  const Tensor& self = args.tensor(0);
  Tensor& out = args.tensor(4);
  checkMeanDtypes(args, self, 3, out);
  sumImpl(args, self, args.optIntList(1), args.toBool(2), out, true);
}

// mean.dtype_out(Tensor self, *, ScalarType? dtype=None, Tensor(a!) out)
void mean_dtype_out(KernelArgs& args) {
  args.expectCount(4);
  const Tensor& self = args.tensor(0);
  Tensor& out = args.tensor(2);
  checkMeanDtypes(args, self, 1, out);
  sumImpl(args, self, std::nullopt, false, out, true);
}

// amax/amin: NaN propagates.
void extremumImpl(KernelArgs& args, bool isMax) {
  // amax.out / amin.out(Tensor self, int[1] dim=[], bool keepdim=False, *, Tensor(a!) out)
  args.expectCount(5);
  const Tensor& self = args.tensor(0);
  const std::vector<int64_t> dims = args.intList(1);
  const bool keepdim = args.toBool(2);
  Tensor& out = args.tensor(3);
  checkLoadable(args, self, "self");
  checkLoadable(args, out, "out");
  const ReducePlan p = makePlan(args, self, dims, keepdim);
  requireNonEmptyReduction(args, self, p);
  args.resizeOut(out, p.outSizes);
  std::vector<bool> seen(static_cast<size_t>(p.outNumel), false);
  if (isFloatingType(self.dtype())) {
    std::vector<double> best(static_cast<size_t>(p.outNumel), 0.0);
    forEachInput(self, p, [&](int64_t off, int64_t o, int64_t) {
      const size_t k = static_cast<size_t>(o);
      const double x = loadDouble(self.data(), self.dtype(), off);
      if (!seen[k]) {
        best[k] = x;
        seen[k] = true;
      } else if (!std::isnan(best[k]) && (std::isnan(x) || (isMax ? x > best[k] : x < best[k]))) {
        best[k] = x;
      }
    });
    forEachElement(out, [&](int64_t i, int64_t off) {
      storeDouble(out.data(), out.dtype(), off, best[static_cast<size_t>(i)]);
    });
  } else {
    std::vector<int64_t> best(static_cast<size_t>(p.outNumel), 0);
    forEachInput(self, p, [&](int64_t off, int64_t o, int64_t) {
      const size_t k = static_cast<size_t>(o);
      const int64_t x = loadInt(self.data(), self.dtype(), off);
      if (!seen[k] || (isMax ? x > best[k] : x < best[k])) {
        best[k] = x;
        seen[k] = true;
      }
    });
    forEachElement(out, [&](int64_t i, int64_t off) {
      storeInt(out.data(), out.dtype(), off, best[static_cast<size_t>(i)]);
    });
  }
}

void amax_out(KernelArgs& args) { extremumImpl(args, true); }
void amin_out(KernelArgs& args) { extremumImpl(args, false); }

// argmax/argmin: index of the first extreme value (a NaN counts as the extreme).
void argImpl(KernelArgs& args, bool isMax) {
  // argmax.out / argmin.out(Tensor self, int? dim=None, bool keepdim=False, *, Tensor(a!) out)
  args.expectCount(5);
  const Tensor& self = args.tensor(0);
  const std::optional<int64_t> dim = args.optInt(1);
  const bool keepdim = args.toBool(2);
  Tensor& out = args.tensor(3);
  checkLoadable(args, self, "self");
  checkLoadable(args, out, "out");
  const int64_t rank = self.dim();
  ReducePlan p;
  int64_t inner = 1, len = 1;  // index along `dim` = (linear / inner) % len
  if (dim) {
    const int64_t d = normalizeDim(args, *dim, rank);
    p = makePlan(args, self, std::vector<int64_t>{d}, keepdim);
    if (rank > 0) {
      len = self.size(d);
      for (int64_t k = d + 1; k < rank; ++k) inner *= self.size(k);
    }
    requireNonEmptyReduction(args, self, p);
  } else {
    if (self.numel() == 0)
      args.fail(ErrorCode::InvalidArgument, "cannot take the arg extremum of an empty tensor");
    p = makePlan(args, self, std::nullopt, keepdim);
    len = self.numel();
  }
  args.resizeOut(out, p.outSizes);
  std::vector<bool> seen(static_cast<size_t>(p.outNumel), false);
  std::vector<int64_t> bestIdx(static_cast<size_t>(p.outNumel), 0);
  const bool fl = isFloatingType(self.dtype());
  std::vector<double> bestD(fl ? static_cast<size_t>(p.outNumel) : 0, 0.0);
  std::vector<int64_t> bestI(fl ? 0 : static_cast<size_t>(p.outNumel), 0);
  forEachInput(self, p, [&](int64_t off, int64_t o, int64_t linear) {
    const size_t k = static_cast<size_t>(o);
    const int64_t idx = dim ? (linear / inner) % len : linear;
    bool take = !seen[k];
    if (fl) {
      const double x = loadDouble(self.data(), self.dtype(), off);
      if (!take && !std::isnan(bestD[k]))
        take = std::isnan(x) || (isMax ? x > bestD[k] : x < bestD[k]);
      if (take) bestD[k] = x;
    } else {
      const int64_t x = loadInt(self.data(), self.dtype(), off);
      if (!take) take = isMax ? x > bestI[k] : x < bestI[k];
      if (take) bestI[k] = x;
    }
    if (take) {
      bestIdx[k] = idx;
      seen[k] = true;
    }
  });
  forEachElement(out, [&](int64_t i, int64_t off) {
    storeInt(out.data(), out.dtype(), off, bestIdx[static_cast<size_t>(i)]);
  });
}

void argmax_out(KernelArgs& args) { argImpl(args, true); }
void argmin_out(KernelArgs& args) { argImpl(args, false); }

// any over dims: out = 1 if any element is nonzero (NaN counts as nonzero).
void anyImpl(const KernelArgs& args, const Tensor& self,
             const std::optional<std::vector<int64_t>>& dims, bool keepdim, Tensor& out) {
  checkLoadable(args, self, "self");
  checkLoadable(args, out, "out");
  const ReducePlan p = makePlan(args, self, dims, keepdim);
  args.resizeOut(out, p.outSizes);
  std::vector<uint8_t> acc(static_cast<size_t>(p.outNumel), 0);
  const bool fl = isFloatingType(self.dtype());
  forEachInput(self, p, [&](int64_t off, int64_t o, int64_t) {
    const bool t = fl ? loadDouble(self.data(), self.dtype(), off) != 0
                      : loadInt(self.data(), self.dtype(), off) != 0;
    if (t) acc[static_cast<size_t>(o)] = 1;
  });
  forEachElement(out, [&](int64_t i, int64_t off) {
    storeInt(out.data(), out.dtype(), off, acc[static_cast<size_t>(i)]);
  });
}

// any.all_out(Tensor self, *, Tensor(a!) out)
void any_all_out(KernelArgs& args) {
  args.expectCount(3);
  anyImpl(args, args.tensor(0), std::nullopt, false, args.tensor(1));
}

// any.dims_out(Tensor self, int[]? dim=None, bool keepdim=False, *, Tensor(a!) out)
void any_dims_out(KernelArgs& args) {
  args.expectCount(5);
  anyImpl(args, args.tensor(0), args.optIntList(1), args.toBool(2), args.tensor(3));
}

// any.out(Tensor self, int dim, bool keepdim=False, *, Tensor(a!) out)
void any_out(KernelArgs& args) {
  args.expectCount(5);
  anyImpl(args, args.tensor(0), std::vector<int64_t>{args.toInt(1)}, args.toBool(2),
          args.tensor(3));
}

}  // namespace

ETN_REGISTER_KERNEL("aten::sum.IntList_out", sum_intlist_out);
ETN_REGISTER_KERNEL("aten::sum.out", sum_out);
ETN_REGISTER_KERNEL("aten::mean.out", mean_out);
ETN_REGISTER_KERNEL("aten::mean.dtype_out", mean_dtype_out);
ETN_REGISTER_KERNEL("aten::amax.out", amax_out);
ETN_REGISTER_KERNEL("aten::amin.out", amin_out);
ETN_REGISTER_KERNEL("aten::argmax.out", argmax_out);
ETN_REGISTER_KERNEL("aten::argmin.out", argmin_out);
ETN_REGISTER_KERNEL("aten::any.all_out", any_all_out);
ETN_REGISTER_KERNEL("aten::any.dims_out", any_dims_out);
ETN_REGISTER_KERNEL("aten::any.out", any_out);

}  // namespace etn
