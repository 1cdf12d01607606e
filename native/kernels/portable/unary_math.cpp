// Elementwise unary math. Transcendental functions of integer/bool inputs are
// computed as floats (the out tensor's dtype decides what is stored); neg, abs,
// relu, floor, ceil and round keep integers exact.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "../kernel_util.h"

namespace etn {
namespace {

// out[i] = f(self[i]); fd(double) in a floating computation dtype, else fi(int64).
template <typename FD, typename FI>
void runUnary(const KernelArgs& args, const Tensor& a, Tensor& out, ScalarType ct, FD&& fd,
              FI&& fi) {
  checkLoadable(args, a, "self");
  checkLoadable(args, out, "out");
  args.resizeOut(out, a.sizes());
  const void* pa = a.data();
  void* po = out.data();
  const ScalarType ta = a.dtype(), to = out.dtype();
  if (isFloatingType(ct)) {
    forEachIndex2(a.sizes(), a.strides(), out.strides(), [&](int64_t, int64_t oa, int64_t oo) {
      storeDouble(po, to, oo, roundTo(ct, fd(roundTo(ct, loadDouble(pa, ta, oa)))));
    });
  } else {
    forEachIndex2(a.sizes(), a.strides(), out.strides(), [&](int64_t, int64_t oa, int64_t oo) {
      storeInt(po, to, oo, fi(loadInt(pa, ta, oa)));
    });
  }
}

// A function that always computes in floating point (integers -> default float).
template <typename FD>
void runFloatUnary(const KernelArgs& args, const Tensor& a, Tensor& out, FD&& fd) {
  const ScalarType ct = isFloatingType(a.dtype()) ? a.dtype() : ScalarType::Float;
  runUnary(args, a, out, ct, fd, [](int64_t x) { return x; });
}

double sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

#define ETN_FLOAT_UNARY(fnName, expr)                          \
  void fnName(KernelArgs& args) {                              \
    args.expectCount(3);                                       \
    runFloatUnary(args, args.tensor(0), args.tensor(1),        \
                  [](double x) { return (expr); });            \
  }

// <op>.out(Tensor self, *, Tensor(a!) out)
ETN_FLOAT_UNARY(exp_out, std::exp(x))
ETN_FLOAT_UNARY(sqrt_out, std::sqrt(x))
ETN_FLOAT_UNARY(rsqrt_out, 1.0 / std::sqrt(x))
ETN_FLOAT_UNARY(log_out, std::log(x))
ETN_FLOAT_UNARY(sin_out, std::sin(x))
ETN_FLOAT_UNARY(cos_out, std::cos(x))
ETN_FLOAT_UNARY(tanh_out, std::tanh(x))
ETN_FLOAT_UNARY(sigmoid_out, sigmoid(x))
ETN_FLOAT_UNARY(reciprocal_out, 1.0 / x)
ETN_FLOAT_UNARY(silu_out, x * sigmoid(x))
ETN_FLOAT_UNARY(erf_out, std::erf(x))

#undef ETN_FLOAT_UNARY

// neg.out(Tensor self, *, Tensor(a!) out)
void neg_out(KernelArgs& args) {
  args.expectCount(3);
  const Tensor& a = args.tensor(0);
  if (a.dtype() == ScalarType::Bool)
    args.fail(ErrorCode::InvalidArgument,
              "negation of a bool tensor is not supported (use logical_not)");
  runUnary(args, a, args.tensor(1), a.dtype(), [](double x) { return -x; },
           [](int64_t x) { return wrapNeg(x); });
}

// abs.out(Tensor self, *, Tensor(a!) out)
void abs_out(KernelArgs& args) {
  args.expectCount(3);
  const Tensor& a = args.tensor(0);
  runUnary(args, a, args.tensor(1), a.dtype(), [](double x) { return std::fabs(x); },
           [](int64_t x) { return x < 0 ? wrapNeg(x) : x; });
}

// relu.out(Tensor self, *, Tensor(a!) out); NaN stays NaN.
void relu_out(KernelArgs& args) {
  args.expectCount(3);
  const Tensor& a = args.tensor(0);
  runUnary(args, a, args.tensor(1), a.dtype(), [](double x) { return x < 0 ? 0.0 : x; },
           [](int64_t x) { return x < 0 ? int64_t{0} : x; });
}

// floor.out / ceil.out / round.out(Tensor self, *, Tensor(a!) out): integers pass through.
void floor_out(KernelArgs& args) {
  args.expectCount(3);
  const Tensor& a = args.tensor(0);
  runUnary(args, a, args.tensor(1), a.dtype(), [](double x) { return std::floor(x); },
           [](int64_t x) { return x; });
}

void ceil_out(KernelArgs& args) {
  args.expectCount(3);
  const Tensor& a = args.tensor(0);
  runUnary(args, a, args.tensor(1), a.dtype(), [](double x) { return std::ceil(x); },
           [](int64_t x) { return x; });
}

// Round half to even, like torch.round.
double roundHalfEven(double x) {
  if (!std::isfinite(x)) return x;
  const double r = std::round(x);  // half away from zero
  if (std::fabs(x - std::trunc(x)) == 0.5) return 2.0 * std::round(x / 2.0);
  return r;
}

void round_out(KernelArgs& args) {
  args.expectCount(3);
  const Tensor& a = args.tensor(0);
  runUnary(args, a, args.tensor(1), a.dtype(), [](double x) { return roundHalfEven(x); },
           [](int64_t x) { return x; });
}

// round.decimals_out(Tensor self, *, int decimals, Tensor(a!) out)
void round_decimals_out(KernelArgs& args) {
  args.expectCount(4);
  const Tensor& a = args.tensor(0);
  const int64_t decimals = args.toInt(1);
  const ScalarType ct = a.dtype();
  if (decimals == 0) {
    runUnary(args, a, args.tensor(2), ct, [](double x) { return roundHalfEven(x); },
             [](int64_t x) { return x; });
    return;
  }
  const bool negative = decimals < 0;
  const double scale = roundTo(ct, std::pow(10.0, static_cast<double>(negative ? -decimals : decimals)));
  runUnary(
      args, a, args.tensor(2), ct,
      [ct, scale, negative](double x) {
        return negative ? roundHalfEven(roundTo(ct, x / scale)) * scale
                        : roundHalfEven(roundTo(ct, x * scale)) / scale;
      },
      [](int64_t x) { return x; });
}

// gelu.out(Tensor self, *, str approximate='none', Tensor(a!) out)
void gelu_out(KernelArgs& args) {
  args.expectCount(4);
  const Tensor& a = args.tensor(0);
  const std::string& mode = args.toString(1);
  if (!isFloatingType(a.dtype()))
    args.fail(ErrorCode::InvalidArgument, "gelu expects a floating point input, got ",
              scalarTypeName(a.dtype()));
  if (mode == "none") {
    const double invSqrt2 = 0.70710678118654752440;
    runFloatUnary(args, a, args.tensor(2),
                  [invSqrt2](double x) { return 0.5 * x * (1.0 + std::erf(x * invSqrt2)); });
  } else if (mode == "tanh") {
    const double k = 0.79788456080286535588;  // sqrt(2 / pi)
    runFloatUnary(args, a, args.tensor(2), [k](double x) {
      return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
    });
  } else {
    args.fail(ErrorCode::InvalidArgument, "approximate must be 'none' or 'tanh', got '", mode, "'");
  }
}

}  // namespace

ETN_REGISTER_KERNEL("aten::exp.out", exp_out);
ETN_REGISTER_KERNEL("aten::neg.out", neg_out);
ETN_REGISTER_KERNEL("aten::abs.out", abs_out);
ETN_REGISTER_KERNEL("aten::sqrt.out", sqrt_out);
ETN_REGISTER_KERNEL("aten::rsqrt.out", rsqrt_out);
ETN_REGISTER_KERNEL("aten::log.out", log_out);
ETN_REGISTER_KERNEL("aten::sin.out", sin_out);
ETN_REGISTER_KERNEL("aten::cos.out", cos_out);
ETN_REGISTER_KERNEL("aten::tanh.out", tanh_out);
ETN_REGISTER_KERNEL("aten::sigmoid.out", sigmoid_out);
ETN_REGISTER_KERNEL("aten::relu.out", relu_out);
ETN_REGISTER_KERNEL("aten::floor.out", floor_out);
ETN_REGISTER_KERNEL("aten::ceil.out", ceil_out);
ETN_REGISTER_KERNEL("aten::round.out", round_out);
ETN_REGISTER_KERNEL("aten::round.decimals_out", round_decimals_out);
ETN_REGISTER_KERNEL("aten::reciprocal.out", reciprocal_out);
ETN_REGISTER_KERNEL("aten::gelu.out", gelu_out);
ETN_REGISTER_KERNEL("aten::silu.out", silu_out);
ETN_REGISTER_KERNEL("aten::erf.out", erf_out);

}  // namespace etn
