// pow with tensor/scalar bases and exponents. Integer powers are computed
// exactly by repeated squaring (wrapping like the fixed-width dtype would);
// floating powers use std::pow in double, rounded once to the result dtype.
#include <cmath>
#include <cstdint>
#include <vector>

#include "../kernel_util.h"

namespace etn {
namespace {

// Integer power; a negative exponent gives 1/base truncated (so 1, +-1 or 0),
// matching PyTorch's integer pow with tensor exponents.
int64_t powInt(int64_t base, int64_t e) {
  if (e < 0) {
    if (base == 1) return 1;
    if (base == -1) return (e % 2 != 0) ? -1 : 1;
    return 0;
  }
  uint64_t result = 1;
  uint64_t b = static_cast<uint64_t>(base);
  uint64_t ue = static_cast<uint64_t>(e);
  while (ue != 0) {
    if (ue & 1) result *= b;
    b *= b;
    ue >>= 1;
  }
  return static_cast<int64_t>(result);
}

// out[i] = pow(base, exp) with each side either a tensor (broadcast) or a scalar.
// A scalar side is given as a tensor pointer of nullptr plus its value.
struct Operand {
  const Tensor* t = nullptr;
  Scalar s;
};

void runPow(const KernelArgs& args, const Operand& base, const Operand& ex, Tensor& out,
            ScalarType ct) {
  checkLoadable(args, out, "out");
  if (base.t) checkLoadable(args, *base.t, "self");
  if (ex.t) checkLoadable(args, *ex.t, "exponent");
  const std::vector<int64_t> noSizes;
  const std::vector<int64_t>& bs = base.t ? base.t->sizes() : noSizes;
  const std::vector<int64_t>& es = ex.t ? ex.t->sizes() : noSizes;
  const std::vector<int64_t> sizes = broadcastShapes(args, bs, es);
  args.resizeOut(out, sizes);
  const std::vector<int64_t> zero(sizes.size(), 0);
  const std::vector<int64_t> sb = base.t ? broadcastStrides(*base.t, sizes) : zero;
  const std::vector<int64_t> se = ex.t ? broadcastStrides(*ex.t, sizes) : zero;
  const std::vector<int64_t> so = out.strides();
  const bool fl = isFloatingType(ct);
  const double baseD = roundTo(ct, base.s.toDouble()), exD = roundTo(ct, ex.s.toDouble());
  // Integer computations never have a floating scalar (it would have promoted ct).
  const int64_t baseI = (!fl && !base.s.isFloating()) ? base.s.i : 0;
  const int64_t exI = (!fl && !ex.s.isFloating()) ? ex.s.i : 0;
  forEachIndex3(sizes, sb, se, so, [&](int64_t, int64_t ob, int64_t oe, int64_t oo) {
    if (fl) {
      const double x = base.t ? roundTo(ct, loadDouble(base.t->data(), base.t->dtype(), ob)) : baseD;
      const double y = ex.t ? roundTo(ct, loadDouble(ex.t->data(), ex.t->dtype(), oe)) : exD;
      storeDouble(out.data(), out.dtype(), oo, roundTo(ct, std::pow(x, y)));
    } else {
      const int64_t x = base.t ? loadInt(base.t->data(), base.t->dtype(), ob) : baseI;
      const int64_t y = ex.t ? loadInt(ex.t->data(), ex.t->dtype(), oe) : exI;
      int64_t r = powInt(x, y);
      if (ct == ScalarType::Bool) r = r != 0 ? 1 : 0;
      storeInt(out.data(), out.dtype(), oo, r);
    }
  });
}

// pow.Tensor_Scalar_out(Tensor self, Scalar exponent, *, Tensor(a!) out)
void pow_tensor_scalar_out(KernelArgs& args) {
  args.expectCount(4);
  const Tensor& self = args.tensor(0);
  const Scalar e = args.scalar(1);
  if (isIntegralType(self.dtype(), true) && !e.isFloating() && e.toInt() < 0)
    args.fail(ErrorCode::InvalidArgument, "Integers to negative integer powers are not allowed");
  Operand base{&self, Scalar{}}, ex{nullptr, e};
  runPow(args, base, ex, args.tensor(2), promoteWithScalar(self.dtype(), e));
}

// pow.Tensor_Tensor_out(Tensor self, Tensor exponent, *, Tensor(a!) out)
void pow_tensor_tensor_out(KernelArgs& args) {
  args.expectCount(4);
  const Tensor& self = args.tensor(0);
  const Tensor& e = args.tensor(1);
  Operand base{&self, Scalar{}}, ex{&e, Scalar{}};
  runPow(args, base, ex, args.tensor(2), resultType(self, e));
}

// pow.Scalar_out(Scalar self, Tensor exponent, *, Tensor(a!) out)
void pow_scalar_out(KernelArgs& args) {
  args.expectCount(4);
  const Scalar b = args.scalar(0);
  const Tensor& e = args.tensor(1);
  Operand base{nullptr, b}, ex{&e, Scalar{}};
  runPow(args, base, ex, args.tensor(2), promoteWithScalar(e.dtype(), b));
}

}  // namespace

ETN_REGISTER_KERNEL("aten::pow.Tensor_Scalar_out", pow_tensor_scalar_out);
ETN_REGISTER_KERNEL("aten::pow.Tensor_Tensor_out", pow_tensor_tensor_out);
ETN_REGISTER_KERNEL("aten::pow.Scalar_out", pow_scalar_out);

}  // namespace etn
