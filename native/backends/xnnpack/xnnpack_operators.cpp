// XNNPACK operators: created once at init where the node fixes everything
// (fully connected and convolution pack their weights then, never per call), or
// on first use where the channel count comes from the input. A node without an
// operator (XNNPACK refused its parameters, or has none) runs our own loop.
#include <algorithm>
#include <cmath>
#include <string>

#include "../../runtime/error.h"
#include "xnnpack_delegate.h"

namespace etn {
namespace xnnpack {
namespace {

// Elementwise operators: one row per op, with the xnn_setup_* each call uses.
// Unary ones get channels = 1 with unit strides: XNNPACK treats the tensor as one flat array.

struct BinaryOperator {
  xnnk::Binary op;
  xnn_status (*create)(float lo, float hi, xnn_operator_t* op);
  BinarySetup setup;
};

template <xnn_status (*Create)(float, float, uint32_t, xnn_operator_t*)>
xnn_status clamped(float lo, float hi, xnn_operator_t* op) {
  return Create(lo, hi, 0, op);
}
// Minimum and maximum take no output range.
template <xnn_status (*Create)(uint32_t, xnn_operator_t*)>
xnn_status unclamped(float, float, xnn_operator_t* op) {
  return Create(0, op);
}

const BinaryOperator kBinaryOperators[] = {
    {xnnk::Binary::Add, clamped<xnn_create_add_nd_f32>, xnn_setup_add_nd_f32},
    {xnnk::Binary::Sub, clamped<xnn_create_subtract_nd_f32>, xnn_setup_subtract_nd_f32},
    {xnnk::Binary::Mul, clamped<xnn_create_multiply_nd_f32>, xnn_setup_multiply_nd_f32},
    {xnnk::Binary::Div, clamped<xnn_create_divide_nd_f32>, xnn_setup_divide_nd_f32},
    {xnnk::Binary::Min, unclamped<xnn_create_minimum_nd_f32>, xnn_setup_minimum_nd_f32},
    {xnnk::Binary::Max, unclamped<xnn_create_maximum_nd_f32>, xnn_setup_maximum_nd_f32},
};

struct UnaryOperator {
  xnnk::Unary op;
  xnn_status (*create)(const Node& n, xnn_operator_t* op);
  UnarySetup setup;
};

template <xnn_status (*Create)(size_t, size_t, size_t, uint32_t, xnn_operator_t*)>
xnn_status plain(const Node&, xnn_operator_t* op) {
  return Create(1, 1, 1, 0, op);
}
// LeakyReLU slope, ELU alpha.
template <xnn_status (*Create)(size_t, size_t, size_t, float, uint32_t, xnn_operator_t*)>
xnn_status withAlpha(const Node& n, xnn_operator_t* op) {
  return Create(1, 1, 1, n.alpha, 0, op);
}
xnn_status clampOp(const Node& n, xnn_operator_t* op) {
  return xnn_create_clamp_nc_f32(1, 1, 1, n.outMin, n.outMax, 0, op);
}

const UnaryOperator kUnaryOperators[] = {
    {xnnk::Unary::Clamp, clampOp, xnn_setup_clamp_nc_f32},
    {xnnk::Unary::Sigmoid, plain<xnn_create_sigmoid_nc_f32>, xnn_setup_sigmoid_nc_f32},
    {xnnk::Unary::Hardswish, plain<xnn_create_hardswish_nc_f32>, xnn_setup_hardswish_nc_f32},
    {xnnk::Unary::Abs, plain<xnn_create_abs_nc_f32>, xnn_setup_abs_nc_f32},
    {xnnk::Unary::Negate, plain<xnn_create_negate_nc_f32>, xnn_setup_negate_nc_f32},
    {xnnk::Unary::Square, plain<xnn_create_square_nc_f32>, xnn_setup_square_nc_f32},
    {xnnk::Unary::Sqrt, plain<xnn_create_square_root_nc_f32>, xnn_setup_square_root_nc_f32},
    {xnnk::Unary::Floor, plain<xnn_create_floor_nc_f32>, xnn_setup_floor_nc_f32},
    {xnnk::Unary::Ceil, plain<xnn_create_ceiling_nc_f32>, xnn_setup_ceiling_nc_f32},
    {xnnk::Unary::LeakyRelu, withAlpha<xnn_create_leaky_relu_nc_f32>, xnn_setup_leaky_relu_nc_f32},
    {xnnk::Unary::Elu, withAlpha<xnn_create_elu_nc_f32>, xnn_setup_elu_nc_f32},
};

// The row for op, or null (no XNNPACK operator: our own loop).
template <class Row, size_t N, class Key>
const Row* findOperator(const Row (&rows)[N], Key op) {
  for (const Row& r : rows)
    if (r.op == op) return &r;
  return nullptr;
}

}  // namespace

void XnnpackDelegate::check(const Node& n, xnn_status s, const char* stage) const {
  if (s == xnn_status_success) return;
  const ErrorCode code = s == xnn_status_out_of_memory ? ErrorCode::OutOfMemory
                         : s == xnn_status_unsupported_parameter || s == xnn_status_unsupported_hardware
                             ? ErrorCode::NotSupported
                             : ErrorCode::InvalidProgram;
  fail(code, "XnnpackBackend: node ", n.index, " ", n.name, ": XNNPACK ", stage, " failed (status ",
       static_cast<int>(s), ")", where_);
}

void XnnpackDelegate::createOperators() {
  for (Node& n : nodes_) {
    if (n.op == Op::QD8FullyConnected)
      packQD8Weights(n);
    else if (n.op == Op::F32QC8WFullyConnected)
      packF32QC8WWeights(n);
    else if (!reference_ || n.op == Op::Quantize || n.op == Op::Dequantize)
      createOperator(n);
  }
}

void XnnpackDelegate::createOperator(Node& n) {
  xnn_operator_t op = nullptr;
  xnn_status s = xnn_status_success;
  const float lo = n.outMin, hi = n.outMax;
  switch (n.op) {
    case Op::Binary: {
      const BinaryOperator* b = findOperator(kBinaryOperators, n.binary);
      if (b == nullptr) return;
      s = b->create(lo, hi, &op);
      n.setupBinary = b->setup;
      break;
    }
    case Op::XnnUnary: {
      const UnaryOperator* u = findOperator(kUnaryOperators, n.unary);
      if (u == nullptr) return;
      if (n.unary == xnnk::Unary::Clamp && !(lo < hi)) return;  // degenerate range: our own loop
      s = u->create(n, &op);
      if (s != xnn_status_success) {
        // This XNNPACK refused the parameters (e.g. an ELU alpha it cannot represent): use our loop.
        n.op = Op::OwnUnary;
        return;
      }
      n.setupUnary = u->setup;
      break;
    }
    case Op::FullyConnected: {
      const Value& f = values_[n.in[1]];
      const bool constBias = n.bias < 0 || values_[static_cast<size_t>(n.bias)].kind == Value::Kind::Constant;
      if (f.kind != Value::Kind::Constant || !constBias) return;  // runtime weights: our own GEMM
      const float* bias = n.bias >= 0 ? values_[static_cast<size_t>(n.bias)].constData : nullptr;
      // Packs the weights now, once.
      s = xnn_create_fully_connected_nc_f32(n.ic, n.oc, n.ic, n.oc, f.constData, bias, lo, hi,
                                            n.transposedWeights ? XNN_FLAG_TRANSPOSE_WEIGHTS : 0, &op);
      break;
    }
    case Op::Conv2d: {
      const Value& f = values_[n.in[1]];
      const float* bias = n.bias >= 0 ? values_[static_cast<size_t>(n.bias)].constData : nullptr;
      const size_t inC = n.groups * n.gic, outC = n.groups * n.goc;
      s = xnn_create_convolution2d_nhwc_f32(n.pt, n.pr, n.pb, n.pl, n.kh, n.kw, n.sh, n.sw, n.dh, n.dw,
                                            static_cast<uint32_t>(n.groups), n.gic, n.goc, inC, outC, f.constData,
                                            bias, lo, hi, n.depthwise ? XNN_FLAG_DEPTHWISE_CONVOLUTION : 0, &op);
      if (s == xnn_status_invalid_parameter || s == xnn_status_unsupported_parameter) return;  // our own loop
      break;
    }
    case Op::Quantize: {
      const Value& o = values_[n.out];
      s = xnn_create_convert_nc_f32_qs8(1, 1, 1, o.qscale, static_cast<int8_t>(o.qzp), -128, 127, 0, &op);
      break;
    }
    case Op::Dequantize: {
      const Value& i = values_[n.in[0]];
      s = xnn_create_convert_nc_qs8_f32(1, 1, 1, i.qscale, static_cast<int8_t>(i.qzp), 0, &op);
      break;
    }
    case Op::ConvTranspose2d: {
      // This XNNPACK refuses (at setup) adjustments not below the stride; PyTorch allows them
      // below the dilation: our own loop.
      if (n.adjH >= n.sh || n.adjW >= n.sw) return;
      const Value& f = values_[n.in[1]];
      const float* bias = n.bias >= 0 ? values_[static_cast<size_t>(n.bias)].constData : nullptr;
      const size_t inC = n.groups * n.gic, outC = n.groups * n.goc;
      s = xnn_create_deconvolution2d_nhwc_f32(n.pt, n.pr, n.pb, n.pl, n.kh, n.kw, n.sh, n.sw, n.dh, n.dw,
                                              static_cast<uint32_t>(n.groups), n.gic, n.goc, inC, outC, f.constData,
                                              bias, lo, hi, 0, &op);
      if (s == xnn_status_invalid_parameter || s == xnn_status_unsupported_parameter) return;  // our own loop
      break;
    }
    case Op::QConv2d:
    case Op::QFullyConnected: {
      const Value& x = values_[n.in[0]];
      const Value& f = values_[n.in[1]];
      const Value& o = values_[n.out];
      const auto* kernel = reinterpret_cast<const int8_t*>(f.constData);
      const int32_t* bias =
          n.bias >= 0 ? reinterpret_cast<const int32_t*>(values_[static_cast<size_t>(n.bias)].constData) : nullptr;
      const auto izp = static_cast<int8_t>(x.qzp), ozp = static_cast<int8_t>(o.qzp);
      if (n.op == Op::QFullyConnected && !n.qPerChannel) {
        s = xnn_create_fully_connected_nc_qs8(n.ic, n.oc, n.ic, n.oc, izp, x.qscale, f.qscale, kernel, bias, ozp,
                                              o.qscale, n.qmin, n.qmax, 0, &op);
        break;
      }
      // Convolutions; a per-channel fully connected layer is a 1x1 convolution over a 1 x rows image.
      const bool fc = n.op == Op::QFullyConnected;
      const uint32_t groups = fc ? 1 : static_cast<uint32_t>(n.groups);
      const size_t gic = fc ? n.ic : n.gic, goc = fc ? n.oc : n.goc;
      const uint32_t kh = fc ? 1 : n.kh, kw = fc ? 1 : n.kw, sh = fc ? 1 : n.sh, sw = fc ? 1 : n.sw;
      const uint32_t dh = fc ? 1 : n.dh, dw = fc ? 1 : n.dw;
      const uint32_t pt = fc ? 0 : n.pt, pr = fc ? 0 : n.pr, pb = fc ? 0 : n.pb, pl = fc ? 0 : n.pl;
      const uint32_t dwFlag = n.depthwise ? XNN_FLAG_DEPTHWISE_CONVOLUTION : 0;
      if (n.qPerChannel)
        s = xnn_create_convolution2d_nhwc_qc8(pt, pr, pb, pl, kh, kw, sh, sw, dh, dw, groups, gic, goc, groups * gic,
                                              groups * goc, izp, x.qscale, n.filterScales.data(), kernel, bias, ozp,
                                              o.qscale, n.qmin, n.qmax, dwFlag, &op);
      else
        s = xnn_create_convolution2d_nhwc_qs8(pt, pr, pb, pl, kh, kw, sh, sw, dh, dw, groups, gic, goc, groups * gic,
                                              groups * goc, izp, x.qscale, f.qscale, kernel, bias, ozp, o.qscale,
                                              n.qmin, n.qmax, dwFlag, &op);
      if (s == xnn_status_invalid_parameter || s == xnn_status_unsupported_parameter) return;  // our own loop
      break;
    }
    case Op::QAdd: {
      const Value& a = values_[n.in[0]];
      const Value& b = values_[n.in[1]];
      const Value& o = values_[n.out];
      s = xnn_create_add_nd_qs8(static_cast<int8_t>(a.qzp), a.qscale, static_cast<int8_t>(b.qzp), b.qscale,
                                static_cast<int8_t>(o.qzp), o.qscale, n.qmin, n.qmax, 0, &op);
      if (s == xnn_status_invalid_parameter || s == xnn_status_unsupported_parameter) return;  // our own loop
      break;
    }
    default:
      return;  // created lazily (channels known at run time) or our own code
  }
  check(n, s, "operator creation");
  n.xop.reset(op);
}

// Operators whose channel count comes from the input: (re)created when it
// changes. False when XNNPACK refuses the parameters: the caller uses its own loop.
bool XnnpackDelegate::ensureChannelsOp(Node& n, size_t channels) {
  if (reference_ && n.op != Op::ResizeBilinear2d) return false;
  if (n.xopTried && n.xopChannels == channels) return n.xop != nullptr;
  n.xop.reset();
  n.xopTried = true;
  n.xopChannels = channels;
  xnn_operator_t op = nullptr;
  xnn_status s = xnn_status_success;
  switch (n.op) {
    case Op::Softmax: s = xnn_create_softmax_nc_f32(channels, channels, channels, 0, &op); break;
    case Op::MaxPool2d:
      s = xnn_create_max_pooling2d_nhwc_f32(n.pt, n.pr, n.pb, n.pl, n.kh, n.kw, n.sh, n.sw, n.dh, n.dw, channels,
                                            channels, channels, n.outMin, n.outMax, 0, &op);
      break;
    case Op::AvgPool2d:
      s = xnn_create_average_pooling2d_nhwc_f32(n.pt, n.pr, n.pb, n.pl, n.kh, n.kw, n.sh, n.sw, channels, channels,
                                                channels, n.outMin, n.outMax, 0, &op);
      break;
    case Op::ResizeBilinear2d:
      s = xnn_create_resize_bilinear2d_nhwc_f32(channels, channels, channels, n.flags, &op);
      break;
    default:
      return false;
  }
  if (s == xnn_status_out_of_memory) check(n, s, "operator creation");
  if (s != xnn_status_success) {
    if (n.op == Op::ResizeBilinear2d) check(n, s, "operator creation");
    return false;
  }
  n.xop.reset(op);
  return true;
}

xnnk::Conv2dParams XnnpackDelegate::convParams(const Node& n) const {
  xnnk::Conv2dParams p;
  p.pt = n.pt;
  p.pl = n.pl;
  p.kh = n.kh;
  p.kw = n.kw;
  p.sh = n.sh;
  p.sw = n.sw;
  p.dh = n.dh;
  p.dw = n.dw;
  p.groups = n.groups;
  p.gic = n.gic;
  p.goc = n.goc;
  p.depthwise = n.depthwise;
  return p;
}

}  // namespace xnnpack
}  // namespace etn
