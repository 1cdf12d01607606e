// quantized_decomposed quantize / dequantize, per tensor (scalar or 1-element
// tensor parameters) and per channel. The arithmetic follows ExecuTorch's
// reference kernels so results are bit-identical:
//   quantize:   q = clamp(zp + nearbyint(float(x * (1.0f / float(scale)))), qmin, qmax)
//               (the addition is done in float, rounding is half-to-even)
//   dequantize: x = float(q - zp) * float(scale)
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "../kernel_util.h"

namespace etn {
namespace {

void requireData(const KernelArgs& args, const Tensor& t, const char* what) {
  if (t.numel() > 0 && t.data() == nullptr)
    args.fail(ErrorCode::Internal, what, " ", t.describe(), " has no data buffer");
}

// The integer range of a quantized dtype; false when the dtype is not one.
bool quantRange(ScalarType t, int64_t& lo, int64_t& hi) {
  switch (t) {
    case ScalarType::Byte: case ScalarType::QUInt8: lo = 0; hi = 255; return true;
    case ScalarType::Char: case ScalarType::QInt8: lo = -128; hi = 127; return true;
    case ScalarType::Short: lo = -32768; hi = 32767; return true;
    case ScalarType::UInt16: case ScalarType::Bits16: lo = 0; hi = 65535; return true;
    case ScalarType::Int: case ScalarType::QInt32:
      lo = INT32_MIN; hi = INT32_MAX; return true;
    default: return false;
  }
}

inline int64_t readQ(const void* base, ScalarType t, int64_t idx) {
  if (t == ScalarType::Bits16) {
    uint16_t v;
    std::memcpy(&v, static_cast<const char*>(base) + idx * 2, 2);
    return v;
  }
  return loadInt(base, t, idx);
}

inline void writeQ(void* base, ScalarType t, int64_t idx, int64_t v) {
  if (t == ScalarType::Bits16) {
    const uint16_t u = static_cast<uint16_t>(v);
    std::memcpy(static_cast<char*>(base) + idx * 2, &u, 2);
    return;
  }
  storeInt(base, t, idx, v);
}

ScalarType dtypeArg(const KernelArgs& args, size_t i) {
  std::optional<ScalarType> t = args.optScalarType(i);
  if (!t) args.fail(ErrorCode::InvalidProgram, "argument ", i, " (dtype) is None");
  return *t;
}

void checkQuantParams(const KernelArgs& args, int64_t qmin, int64_t qmax, ScalarType qtype,
                      const Tensor& qtensor, const char* what) {
  int64_t lo, hi;
  if (!quantRange(qtype, lo, hi))
    args.fail(ErrorCode::NotSupported, "quantized dtype ", scalarTypeName(qtype));
  if (qtensor.dtype() != qtype)
    args.fail(ErrorCode::InvalidArgument, what, " dtype ", scalarTypeName(qtensor.dtype()),
              " does not match dtype argument ", scalarTypeName(qtype));
  if (qmin > qmax)
    args.fail(ErrorCode::InvalidArgument, "quant_min ", qmin, " is greater than quant_max ", qmax);
  if (qmin < lo || qmax > hi)
    args.fail(ErrorCode::InvalidArgument, "quant range [", qmin, ", ", qmax, "] exceeds ",
              scalarTypeName(qtype), " range [", lo, ", ", hi, "]");
}

// One quantized value, ExecuTorch's formula.
inline int64_t quantizeOne(double x, bool inputIsDouble, double scale, int64_t zp, int64_t qmin,
                           int64_t qmax) {
  const float inv = 1.0f / static_cast<float>(scale);
  const float prod = inputIsDouble ? static_cast<float>(static_cast<double>(inv) * x)
                                   : inv * static_cast<float>(x);
  const float sum = static_cast<float>(static_cast<int32_t>(zp)) + std::nearbyint(prod);
  if (std::isnan(sum)) return std::min(std::max(zp, qmin), qmax);
  if (sum <= static_cast<float>(qmin)) return qmin;
  if (sum >= static_cast<float>(qmax)) return qmax;
  return static_cast<int64_t>(sum);
}

inline double dequantizeOne(int64_t q, double scale, int64_t zp) {
  const int32_t diff = static_cast<int32_t>(q) - static_cast<int32_t>(zp);
  return static_cast<double>(static_cast<float>(diff) * static_cast<float>(scale));
}

// Per-channel view: for every element, the channel index along `axis` (or 0).
template <typename F>
void forEachWithChannel(const Tensor& in, const Tensor& out, int64_t axis, F&& fn) {
  std::vector<int64_t> ch(in.sizes().size(), 0);
  if (axis >= 0) ch[static_cast<size_t>(axis)] = 1;
  forEachIndex3(in.sizes(), in.strides(), out.strides(), ch,
                [&](int64_t, int64_t io, int64_t oo, int64_t c) { fn(io, oo, c); });
}

void quantizeImpl(KernelArgs& args, const Tensor& input, const std::vector<double>& scales,
                  const std::vector<int64_t>& zps, int64_t axis, int64_t qmin, int64_t qmax,
                  ScalarType qtype, Tensor& out) {
  if (!isFloatingType(input.dtype()))
    args.fail(ErrorCode::InvalidArgument, "input must be floating point, got ",
              scalarTypeName(input.dtype()));
  checkQuantParams(args, qmin, qmax, qtype, out, "output");
  if (out.dim() != input.dim())
    args.fail(ErrorCode::InvalidArgument, "output rank ", out.dim(), " differs from input ",
              input.describe());
  args.resizeOut(out, input.sizes());
  if (out.numel() == 0) return;
  requireData(args, input, "input");
  requireData(args, out, "output");
  const void* id = input.data();
  void* od = out.data();
  const ScalarType it = input.dtype();
  const bool isDouble = it == ScalarType::Double;
  forEachWithChannel(input, out, axis, [&](int64_t io, int64_t oo, int64_t c) {
    const size_t k = static_cast<size_t>(c);
    writeQ(od, qtype, oo, quantizeOne(loadDouble(id, it, io), isDouble, scales[k], zps[k], qmin, qmax));
  });
}

void dequantizeImpl(KernelArgs& args, const Tensor& input, const std::vector<double>& scales,
                    const std::vector<int64_t>& zps, int64_t axis, int64_t qmin, int64_t qmax,
                    ScalarType qtype, std::optional<ScalarType> outDtype, Tensor& out) {
  checkQuantParams(args, qmin, qmax, qtype, input, "input");
  if (!isFloatingType(out.dtype()))
    args.fail(ErrorCode::InvalidArgument, "output must be floating point, got ",
              scalarTypeName(out.dtype()));
  if (outDtype && *outDtype != out.dtype())
    args.fail(ErrorCode::InvalidArgument, "out_dtype ", scalarTypeName(*outDtype),
              " does not match the output tensor ", out.describe());
  if (out.dim() != input.dim())
    args.fail(ErrorCode::InvalidArgument, "output rank ", out.dim(), " differs from input ",
              input.describe());
  args.resizeOut(out, input.sizes());
  if (out.numel() == 0) return;
  requireData(args, input, "input");
  requireData(args, out, "output");
  const void* id = input.data();
  void* od = out.data();
  const ScalarType ot = out.dtype();
  forEachWithChannel(input, out, axis, [&](int64_t io, int64_t oo, int64_t c) {
    const size_t k = static_cast<size_t>(c);
    storeDouble(od, ot, oo, dequantizeOne(readQ(id, qtype, io), scales[k], zps[k]));
  });
}

// A 1-element scale / zero-point tensor.
double scalarFromTensor(const KernelArgs& args, const Tensor& t, const char* what) {
  if (t.numel() != 1)
    args.fail(ErrorCode::InvalidArgument, what, " must have exactly one element, got ",
              t.describe());
  checkLoadable(args, t, what);
  requireData(args, t, what);
  return loadDouble(t.data(), t.dtype(), 0);
}

int64_t intFromTensor(const KernelArgs& args, const Tensor& t, const char* what) {
  if (t.numel() != 1)
    args.fail(ErrorCode::InvalidArgument, what, " must have exactly one element, got ",
              t.describe());
  if (!isIntegralType(t.dtype(), false))
    args.fail(ErrorCode::InvalidArgument, what, " must be an integer tensor, got ",
              t.describe());
  requireData(args, t, what);
  return loadInt(t.data(), t.dtype(), 0);
}

// quantized_decomposed::quantize_per_tensor.out(Tensor input, float scale, int zero_point,
//     int quant_min, int quant_max, ScalarType dtype, *, Tensor(a!) out)
void quantize_per_tensor_out(KernelArgs& args) {
  args.expectCount(8);
  quantizeImpl(args, args.tensor(0), {args.toDouble(1)}, {args.toInt(2)}, -1, args.toInt(3),
               args.toInt(4), dtypeArg(args, 5), args.tensor(6));
}

// quantized_decomposed::quantize_per_tensor.Tensor_out(Tensor input, Tensor scale,
//     Tensor zero_point, int quant_min, int quant_max, ScalarType dtype, *, Tensor(a!) out)
void quantize_per_tensor_tensor_out(KernelArgs& args) {
  args.expectCount(8);
  const double scale = scalarFromTensor(args, args.tensor(1), "scale");
  const int64_t zp = intFromTensor(args, args.tensor(2), "zero_point");
  quantizeImpl(args, args.tensor(0), {scale}, {zp}, -1, args.toInt(3), args.toInt(4),
               dtypeArg(args, 5), args.tensor(6));
}

// quantized_decomposed::dequantize_per_tensor.out(Tensor input, float scale, int zero_point,
//     int quant_min, int quant_max, ScalarType dtype, *, ScalarType? out_dtype=None,
//     Tensor(a!) out)      (older programs omit out_dtype)
void dequantize_per_tensor_out(KernelArgs& args) {
  if (args.size() != 8 && args.size() != 9) args.expectCount(9);
  const bool hasOutDtype = args.size() == 9;
  const std::optional<ScalarType> outDtype =
      hasOutDtype ? args.optScalarType(6) : std::optional<ScalarType>();
  dequantizeImpl(args, args.tensor(0), {args.toDouble(1)}, {args.toInt(2)}, -1, args.toInt(3),
                 args.toInt(4), dtypeArg(args, 5), outDtype, args.tensor(hasOutDtype ? 7 : 6));
}

// quantized_decomposed::dequantize_per_tensor.Tensor_out(Tensor input, Tensor scale,
//     Tensor zero_point, int quant_min, int quant_max, ScalarType dtype, *,
//     ScalarType? out_dtype=None, Tensor(a!) out)
void dequantize_per_tensor_tensor_out(KernelArgs& args) {
  if (args.size() != 8 && args.size() != 9) args.expectCount(9);
  const bool hasOutDtype = args.size() == 9;
  const double scale = scalarFromTensor(args, args.tensor(1), "scale");
  const int64_t zp = intFromTensor(args, args.tensor(2), "zero_point");
  const std::optional<ScalarType> outDtype =
      hasOutDtype ? args.optScalarType(6) : std::optional<ScalarType>();
  dequantizeImpl(args, args.tensor(0), {scale}, {zp}, -1, args.toInt(3), args.toInt(4),
                 dtypeArg(args, 5), outDtype, args.tensor(hasOutDtype ? 7 : 6));
}

// Per-channel parameters: scales (and zero points, or zeros) with one entry per channel.
void channelParams(const KernelArgs& args, const Tensor& input, int64_t axis, const Tensor& scales,
                   const Tensor* zeroPoints, std::vector<double>& s, std::vector<int64_t>& z) {
  const int64_t channels = input.size(axis);
  if (scales.numel() != channels)
    args.fail(ErrorCode::InvalidArgument, "scales ", scales.describe(), " should have ",
              channels, " elements (dim ", axis, " of ", input.describe(), ")");
  checkLoadable(args, scales, "scales");
  requireData(args, scales, "scales");
  s.assign(static_cast<size_t>(channels), 0.0);
  forEachElement(scales, [&](int64_t lin, int64_t off) {
    s[static_cast<size_t>(lin)] = loadDouble(scales.data(), scales.dtype(), off);
  });
  z.assign(static_cast<size_t>(channels), 0);
  if (zeroPoints) {
    if (zeroPoints->numel() != channels)
      args.fail(ErrorCode::InvalidArgument, "zero_points ", zeroPoints->describe(),
                " should have ", channels, " elements");
    if (!isIntegralType(zeroPoints->dtype(), false))
      args.fail(ErrorCode::InvalidArgument, "zero_points must be an integer tensor, got ",
                zeroPoints->describe());
    requireData(args, *zeroPoints, "zero_points");
    forEachElement(*zeroPoints, [&](int64_t lin, int64_t off) {
      z[static_cast<size_t>(lin)] = loadInt(zeroPoints->data(), zeroPoints->dtype(), off);
    });
  }
}

// quantized_decomposed::quantize_per_channel.out(Tensor input, Tensor scales,
//     Tensor zero_points, int axis, int quant_min, int quant_max, ScalarType dtype, *,
//     Tensor(a!) out)
void quantize_per_channel_out(KernelArgs& args) {
  args.expectCount(9);
  Tensor& input = args.tensor(0);
  if (input.dim() == 0) args.fail(ErrorCode::InvalidArgument, "input must have at least 1 dim");
  const int64_t axis = normalizeDim(args, args.toInt(3), input.dim());
  std::vector<double> s;
  std::vector<int64_t> z;
  channelParams(args, input, axis, args.tensor(1), &args.tensor(2), s, z);
  quantizeImpl(args, input, s, z, axis, args.toInt(4), args.toInt(5), dtypeArg(args, 6),
               args.tensor(7));
}

// quantized_decomposed::dequantize_per_channel.out(Tensor input, Tensor scales,
//     Tensor? zero_points, int axis, int quant_min, int quant_max, ScalarType dtype, *,
//     ScalarType? out_dtype=None, Tensor(a!) out)      (older programs omit out_dtype)
void dequantize_per_channel_out(KernelArgs& args) {
  if (args.size() != 9 && args.size() != 10) args.expectCount(10);
  const bool hasOutDtype = args.size() == 10;
  Tensor& input = args.tensor(0);
  if (input.dim() == 0) args.fail(ErrorCode::InvalidArgument, "input must have at least 1 dim");
  const int64_t axis = normalizeDim(args, args.toInt(3), input.dim());
  std::vector<double> s;
  std::vector<int64_t> z;
  channelParams(args, input, axis, args.tensor(1), args.optTensor(2), s, z);
  const std::optional<ScalarType> outDtype =
      hasOutDtype ? args.optScalarType(7) : std::optional<ScalarType>();
  dequantizeImpl(args, input, s, z, axis, args.toInt(4), args.toInt(5), dtypeArg(args, 6),
                 outDtype, args.tensor(hasOutDtype ? 8 : 7));
}

ETN_REGISTER_KERNEL("quantized_decomposed::quantize_per_tensor.out", quantize_per_tensor_out);
ETN_REGISTER_KERNEL("quantized_decomposed::quantize_per_tensor.Tensor_out",
                    quantize_per_tensor_tensor_out);
ETN_REGISTER_KERNEL("quantized_decomposed::dequantize_per_tensor.out", dequantize_per_tensor_out);
ETN_REGISTER_KERNEL("quantized_decomposed::dequantize_per_tensor.Tensor_out",
                    dequantize_per_tensor_tensor_out);
ETN_REGISTER_KERNEL("quantized_decomposed::quantize_per_channel.out", quantize_per_channel_out);
ETN_REGISTER_KERNEL("quantized_decomposed::dequantize_per_channel.out",
                    dequantize_per_channel_out);

}  // namespace
}  // namespace etn
