// _softmax / _log_softmax along one dim, numerically stable (the maximum of
// each slice is subtracted before exponentiating), computed in double.
#include <cmath>
#include <cstdint>
#include <vector>

#include "../kernel_util.h"

namespace etn {
namespace {

void softmaxImpl(KernelArgs& args, bool logSoftmax) {
  // _softmax.out / _log_softmax.out(Tensor self, int dim, bool half_to_float, *, Tensor(a!) out)
  args.expectCount(5);
  const Tensor& self = args.tensor(0);
  const int64_t dimArg = args.toInt(1);
  (void)args.toBool(2);  // half_to_float: the out dtype already reflects it
  Tensor& out = args.tensor(3);
  checkLoadable(args, self, "self");
  checkLoadable(args, out, "out");
  if (!isFloatingType(self.dtype()))
    args.fail(ErrorCode::InvalidArgument, "expects a floating point input, got ",
              scalarTypeName(self.dtype()));
  if (!isFloatingType(out.dtype()))
    args.fail(ErrorCode::InvalidArgument, "expects a floating point out tensor, got ",
              scalarTypeName(out.dtype()));
  requireContiguous(args, self, "self");
  requireContiguous(args, out, "out");
  const int64_t rank = self.dim();
  const int64_t dim = normalizeDim(args, dimArg, rank);
  args.resizeOut(out, self.sizes());

  int64_t outer = 1, len = 1, inner = 1;
  for (int64_t d = 0; d < rank; ++d) {
    const int64_t s = self.size(d);
    if (d < dim) outer *= s;
    else if (d == dim) len = s;
    else inner *= s;
  }
  if (outer == 0 || len == 0 || inner == 0) return;

  const void* in = self.data();
  void* po = out.data();
  const ScalarType ti = self.dtype(), to = out.dtype();
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t base = o * len * inner + i;
      double mx = -INFINITY;
      bool sawNan = false;
      for (int64_t k = 0; k < len; ++k) {
        const double x = loadDouble(in, ti, base + k * inner);
        if (std::isnan(x)) sawNan = true;
        else if (x > mx) mx = x;
      }
      if (sawNan) {
        for (int64_t k = 0; k < len; ++k) storeDouble(po, to, base + k * inner, NAN);
        continue;
      }
      double sum = 0;
      for (int64_t k = 0; k < len; ++k) sum += std::exp(loadDouble(in, ti, base + k * inner) - mx);
      const double logSum = std::log(sum);
      for (int64_t k = 0; k < len; ++k) {
        const double shifted = loadDouble(in, ti, base + k * inner) - mx;
        storeDouble(po, to, base + k * inner,
                    logSoftmax ? shifted - logSum : std::exp(shifted) / sum);
      }
    }
  }
}

void softmax_out(KernelArgs& args) { softmaxImpl(args, false); }
void log_softmax_out(KernelArgs& args) { softmaxImpl(args, true); }

}  // namespace

ETN_REGISTER_KERNEL("aten::_softmax.out", softmax_out);
ETN_REGISTER_KERNEL("aten::_log_softmax.out", log_softmax_out);

}  // namespace etn
