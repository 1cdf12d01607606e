// Elementwise binary arithmetic with broadcasting: add, sub, mul, div (true,
// trunc and floor rounding), remainder (Python modulo), minimum and maximum,
// as tensor-tensor ops and, where ATen has them, tensor-scalar ops.
//
// The computation dtype follows PyTorch's result-type rules (a 0-dim tensor or
// a Scalar only lifts the category); floating math runs in double and is
// rounded to the computation dtype once, integer math runs in wrapping int64.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "../kernel_util.h"

namespace etn {
namespace {

// A Scalar viewed as a 0-dim tensor over local storage, so tensor-scalar ops
// share the tensor-tensor path (with an explicitly chosen computation dtype).
class ScalarTensor {
 public:
  explicit ScalarTensor(const Scalar& s) {
    if (s.kind == Scalar::Kind::Double) {
      t_ = Tensor(ScalarType::Double, {}, {}, ShapeDynamism::Static);
      t_.setData(&d_);
      d_ = s.d;
    } else if (s.kind == Scalar::Kind::Bool) {
      t_ = Tensor(ScalarType::Bool, {}, {}, ShapeDynamism::Static);
      t_.setData(&b_);
      b_ = s.i != 0 ? 1 : 0;
    } else {
      t_ = Tensor(ScalarType::Long, {}, {}, ShapeDynamism::Static);
      t_.setData(&i_);
      i_ = s.i;
    }
  }
  ScalarTensor(const ScalarTensor&) = delete;
  ScalarTensor& operator=(const ScalarTensor&) = delete;
  const Tensor& tensor() const { return t_; }

 private:
  Tensor t_;
  double d_ = 0;
  int64_t i_ = 0;
  uint8_t b_ = 0;
};

// Runs out[i] = f(a[i], b[i]) over the broadcast shape. In a floating
// computation dtype fd(double, double) is used, otherwise fi(int64, int64)
// (bool computations see 0/1).
template <typename FD, typename FI>
void runBinary(const KernelArgs& args, const Tensor& a, const Tensor& b, Tensor& out,
               ScalarType ct, FD&& fd, FI&& fi) {
  checkLoadable(args, a, "self");
  checkLoadable(args, b, "other");
  checkLoadable(args, out, "out");
  const std::vector<int64_t> sizes = broadcastShapes(args, a.sizes(), b.sizes());
  args.resizeOut(out, sizes);
  const std::vector<int64_t> sa = broadcastStrides(a, sizes);
  const std::vector<int64_t> sb = broadcastStrides(b, sizes);
  const std::vector<int64_t> so = out.strides();
  const void* pa = a.data();
  const void* pb = b.data();
  void* po = out.data();
  const ScalarType ta = a.dtype(), tb = b.dtype(), to = out.dtype();
  if (isFloatingType(ct)) {
    forEachIndex3(sizes, sa, sb, so, [&](int64_t, int64_t oa, int64_t ob, int64_t oo) {
      const double x = roundTo(ct, loadDouble(pa, ta, oa));
      const double y = roundTo(ct, loadDouble(pb, tb, ob));
      storeDouble(po, to, oo, roundTo(ct, fd(x, y)));
    });
  } else {
    forEachIndex3(sizes, sa, sb, so, [&](int64_t, int64_t oa, int64_t ob, int64_t oo) {
      storeInt(po, to, oo, fi(loadInt(pa, ta, oa), loadInt(pb, tb, ob)));
    });
  }
}

void checkAlpha(const KernelArgs& args, ScalarType ct, const Scalar& alpha) {
  if (alpha.isBool() && ct != ScalarType::Bool)
    args.fail(ErrorCode::InvalidArgument, "boolean alpha is only supported for bool results");
  if (!isFloatingType(ct) && alpha.isFloating())
    args.fail(ErrorCode::InvalidArgument,
              "alpha must not be a floating point number for integral inputs (computation dtype ",
              scalarTypeName(ct), ")");
}

// out = a + sign * alpha * b
void addImpl(const KernelArgs& args, const Tensor& a, const Tensor& b, const Scalar& alpha,
             Tensor& out, ScalarType ct, int sign) {
  checkAlpha(args, ct, alpha);
  if (sign < 0 && (a.dtype() == ScalarType::Bool || b.dtype() == ScalarType::Bool))
    args.fail(ErrorCode::InvalidArgument,
              "subtraction with a bool tensor or scalar is not supported (use logical_xor / "
              "logical_not)");
  if (ct == ScalarType::Bool) {
    const bool al = alpha.i != 0 || alpha.d != 0;
    runBinary(args, a, b, out, ct, [](double x, double) { return x; },
              [al](int64_t x, int64_t y) -> int64_t { return (x != 0 || (al && y != 0)) ? 1 : 0; });
    return;
  }
  const double ad = roundTo(ct, sign * alpha.toDouble());
  const int64_t ai = sign < 0 ? wrapNeg(alpha.toInt()) : alpha.toInt();
  runBinary(args, a, b, out, ct, [ad](double x, double y) { return x + ad * y; },
            [ai](int64_t x, int64_t y) { return wrapAdd(x, wrapMul(ai, y)); });
}

void mulImpl(const KernelArgs& args, const Tensor& a, const Tensor& b, Tensor& out, ScalarType ct) {
  if (ct == ScalarType::Bool) {
    runBinary(args, a, b, out, ct, [](double x, double) { return x; },
              [](int64_t x, int64_t y) -> int64_t { return (x != 0 && y != 0) ? 1 : 0; });
    return;
  }
  runBinary(args, a, b, out, ct, [](double x, double y) { return x * y; },
            [](int64_t x, int64_t y) { return wrapMul(x, y); });
}

// Floor division of floats with Python semantics (the quotient is exact-ish
// via fmod so that e.g. 0.3 // 0.1 gives 2 like PyTorch).
double floorDivFloat(ScalarType ct, double a, double b) {
  if (b == 0) return a / b;
  const double mod = std::fmod(a, b);
  double q = roundTo(ct, (a - mod) / b);
  if (mod != 0 && ((b < 0) != (mod < 0))) q -= 1;
  if (q == 0) return std::copysign(0.0, a / b);
  double f = std::floor(q);
  if (q - f > 0.5) f += 1;
  return f;
}

int64_t truncDivInt(const KernelArgs& args, int64_t a, int64_t b) {
  if (b == 0) args.fail(ErrorCode::InvalidArgument, "integer division by zero");
  if (b == -1) return wrapNeg(a);
  return a / b;
}

int64_t floorDivInt(const KernelArgs& args, int64_t a, int64_t b) {
  if (b == 0) args.fail(ErrorCode::InvalidArgument, "integer division by zero");
  if (b == -1) return wrapNeg(a);
  int64_t q = a / b;
  if (a % b != 0 && ((a < 0) != (b < 0))) q -= 1;
  return q;
}

enum class DivMode { True, Trunc, Floor };

DivMode parseMode(const KernelArgs& args, size_t i) {
  if (args.at(i).isNone()) return DivMode::True;
  const std::string& m = args.toString(i);
  if (m == "trunc") return DivMode::Trunc;
  if (m == "floor") return DivMode::Floor;
  args.fail(ErrorCode::InvalidArgument, "rounding_mode must be None, 'trunc' or 'floor', got '", m,
            "'");
}

void divImpl(const KernelArgs& args, const Tensor& a, const Tensor& b, Tensor& out, ScalarType ct,
             DivMode mode) {
  if (mode == DivMode::True) {
    // True division always computes in a floating dtype (integers -> default float).
    const ScalarType fct = isFloatingType(ct) ? ct : ScalarType::Float;
    runBinary(args, a, b, out, fct, [](double x, double y) { return x / y; },
              [](int64_t x, int64_t) { return x; });
    return;
  }
  if (mode == DivMode::Trunc) {
    runBinary(args, a, b, out, ct,
              [ct](double x, double y) { return std::trunc(roundTo(ct, x / y)); },
              [&args](int64_t x, int64_t y) { return truncDivInt(args, x, y); });
    return;
  }
  runBinary(args, a, b, out, ct, [ct](double x, double y) { return floorDivFloat(ct, x, y); },
            [&args](int64_t x, int64_t y) { return floorDivInt(args, x, y); });
}

void remainderImpl(const KernelArgs& args, const Tensor& a, const Tensor& b, Tensor& out,
                   ScalarType ct) {
  if (ct == ScalarType::Bool)
    args.fail(ErrorCode::InvalidArgument, "remainder is not defined for bool tensors");
  runBinary(
      args, a, b, out, ct,
      [](double x, double y) {
        double m = std::fmod(x, y);
        if (m != 0 && ((y < 0) != (m < 0))) m += y;
        return m;
      },
      [&args](int64_t x, int64_t y) -> int64_t {
        if (y == 0) args.fail(ErrorCode::InvalidArgument, "integer remainder by zero");
        if (y == -1) return 0;
        int64_t m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) m += y;
        return m;
      });
}

void minMaxImpl(const KernelArgs& args, const Tensor& a, const Tensor& b, Tensor& out,
                ScalarType ct, bool isMax) {
  runBinary(
      args, a, b, out, ct,
      [isMax](double x, double y) {
        if (std::isnan(x) || std::isnan(y)) return std::numeric_limits<double>::quiet_NaN();
        return isMax ? (x > y ? x : y) : (x < y ? x : y);
      },
      [isMax](int64_t x, int64_t y) { return isMax ? (x > y ? x : y) : (x < y ? x : y); });
}

// ---- kernels ---------------------------------------------------------------

// add.out(Tensor self, Tensor other, *, Scalar alpha=1, Tensor(a!) out)
void add_out(KernelArgs& args) {
  args.expectCount(5);
  const Tensor& a = args.tensor(0);
  const Tensor& b = args.tensor(1);
  addImpl(args, a, b, args.scalar(2), args.tensor(3), resultType(a, b), +1);
}

// add.Scalar_out(Tensor self, Scalar other, Scalar alpha=1, *, Tensor(a!) out)
void add_scalar_out(KernelArgs& args) {
  args.expectCount(5);
  const Tensor& a = args.tensor(0);
  const Scalar s = args.scalar(1);
  ScalarTensor st(s);
  addImpl(args, a, st.tensor(), args.scalar(2), args.tensor(3), promoteWithScalar(a.dtype(), s), +1);
}

// sub.out(Tensor self, Tensor other, *, Scalar alpha=1, Tensor(a!) out)
void sub_out(KernelArgs& args) {
  args.expectCount(5);
  const Tensor& a = args.tensor(0);
  const Tensor& b = args.tensor(1);
  addImpl(args, a, b, args.scalar(2), args.tensor(3), resultType(a, b), -1);
}

// sub.Scalar_out(Tensor self, Scalar other, Scalar alpha=1, *, Tensor(a!) out)
void sub_scalar_out(KernelArgs& args) {
  args.expectCount(5);
  const Tensor& a = args.tensor(0);
  const Scalar s = args.scalar(1);
  ScalarTensor st(s);
  addImpl(args, a, st.tensor(), args.scalar(2), args.tensor(3), promoteWithScalar(a.dtype(), s), -1);
}

// mul.out(Tensor self, Tensor other, *, Tensor(a!) out)
void mul_out(KernelArgs& args) {
  args.expectCount(4);
  const Tensor& a = args.tensor(0);
  const Tensor& b = args.tensor(1);
  mulImpl(args, a, b, args.tensor(2), resultType(a, b));
}

// mul.Scalar_out(Tensor self, Scalar other, *, Tensor(a!) out)
void mul_scalar_out(KernelArgs& args) {
  args.expectCount(4);
  const Tensor& a = args.tensor(0);
  const Scalar s = args.scalar(1);
  ScalarTensor st(s);
  mulImpl(args, a, st.tensor(), args.tensor(2), promoteWithScalar(a.dtype(), s));
}

// div.out(Tensor self, Tensor other, *, Tensor(a!) out)
void div_out(KernelArgs& args) {
  args.expectCount(4);
  const Tensor& a = args.tensor(0);
  const Tensor& b = args.tensor(1);
  divImpl(args, a, b, args.tensor(2), resultType(a, b), DivMode::True);
}

// div.out_mode(Tensor self, Tensor other, *, str? rounding_mode, Tensor(a!) out)
void div_out_mode(KernelArgs& args) {
  args.expectCount(5);
  const Tensor& a = args.tensor(0);
  const Tensor& b = args.tensor(1);
  divImpl(args, a, b, args.tensor(3), resultType(a, b), parseMode(args, 2));
}

// div.Scalar_out(Tensor self, Scalar other, *, Tensor(a!) out)
void div_scalar_out(KernelArgs& args) {
  args.expectCount(4);
  const Tensor& a = args.tensor(0);
  const Scalar s = args.scalar(1);
  ScalarTensor st(s);
  divImpl(args, a, st.tensor(), args.tensor(2), promoteWithScalar(a.dtype(), s), DivMode::True);
}

// div.Scalar_mode_out(Tensor self, Scalar other, *, str? rounding_mode, Tensor(a!) out)
void div_scalar_mode_out(KernelArgs& args) {
  args.expectCount(5);
  const Tensor& a = args.tensor(0);
  const Scalar s = args.scalar(1);
  ScalarTensor st(s);
  divImpl(args, a, st.tensor(), args.tensor(3), promoteWithScalar(a.dtype(), s),
          parseMode(args, 2));
}

// remainder.Tensor_out(Tensor self, Tensor other, *, Tensor(a!) out)
void remainder_tensor_out(KernelArgs& args) {
  args.expectCount(4);
  const Tensor& a = args.tensor(0);
  const Tensor& b = args.tensor(1);
  remainderImpl(args, a, b, args.tensor(2), resultType(a, b));
}

// remainder.Scalar_out(Tensor self, Scalar other, *, Tensor(a!) out)
void remainder_scalar_out(KernelArgs& args) {
  args.expectCount(4);
  const Tensor& a = args.tensor(0);
  const Scalar s = args.scalar(1);
  ScalarTensor st(s);
  remainderImpl(args, a, st.tensor(), args.tensor(2), promoteWithScalar(a.dtype(), s));
}

// minimum.out(Tensor self, Tensor other, *, Tensor(a!) out)
void minimum_out(KernelArgs& args) {
  args.expectCount(4);
  const Tensor& a = args.tensor(0);
  const Tensor& b = args.tensor(1);
  minMaxImpl(args, a, b, args.tensor(2), resultType(a, b), false);
}

// maximum.out(Tensor self, Tensor other, *, Tensor(a!) out)
void maximum_out(KernelArgs& args) {
  args.expectCount(4);
  const Tensor& a = args.tensor(0);
  const Tensor& b = args.tensor(1);
  minMaxImpl(args, a, b, args.tensor(2), resultType(a, b), true);
}

}  // namespace

ETN_REGISTER_KERNEL("aten::add.out", add_out);
ETN_REGISTER_KERNEL("aten::add.Scalar_out", add_scalar_out);
ETN_REGISTER_KERNEL("aten::sub.out", sub_out);
ETN_REGISTER_KERNEL("aten::sub.Scalar_out", sub_scalar_out);
ETN_REGISTER_KERNEL("aten::mul.out", mul_out);
ETN_REGISTER_KERNEL("aten::mul.Scalar_out", mul_scalar_out);
ETN_REGISTER_KERNEL("aten::div.out", div_out);
ETN_REGISTER_KERNEL("aten::div.out_mode", div_out_mode);
ETN_REGISTER_KERNEL("aten::div.Scalar_out", div_scalar_out);
ETN_REGISTER_KERNEL("aten::div.Scalar_mode_out", div_scalar_mode_out);
ETN_REGISTER_KERNEL("aten::remainder.Tensor_out", remainder_tensor_out);
ETN_REGISTER_KERNEL("aten::remainder.Scalar_out", remainder_scalar_out);
ETN_REGISTER_KERNEL("aten::minimum.out", minimum_out);
ETN_REGISTER_KERNEL("aten::maximum.out", maximum_out);

}  // namespace etn
