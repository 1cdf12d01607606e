// Nodes of the graph: parseNode dispatches on the serialized node type to one
// parser per node family, which resolves the node's value ids, checks their
// datatypes and the node's parameters, and fills in a Node.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "../../runtime/error.h"
#include "xnnpack_delegate.h"

namespace etn {
namespace xnnpack {
namespace {

// XNN_FLAG_KEEP_DIMS in newer XNNPACK; Debian's 2022 header does not define it.
constexpr uint32_t kFlagKeepDims = 0x40;

// Windows and paddings no real model has (they would overflow the shape arithmetic).
bool absurdWindow(const Node& n) {
  return n.kh > 65536 || n.kw > 65536 || n.dh > 65536 || n.dw > 65536 || n.pt > (1u << 24) || n.pb > (1u << 24) ||
         n.pl > (1u << 24) || n.pr > (1u << 24);
}

// Convolution and pooling tables name their paddings alike.
template <class T>
void readPadding(Node& n, const T* t) {
  n.pt = t->padding_top();
  n.pr = t->padding_right();
  n.pb = t->padding_bottom();
  n.pl = t->padding_left();
}

}  // namespace

// ---------------------------------------------------------------------------
// Values as node operands

uint32_t XnnpackDelegate::valueRef(const Node& n, uint32_t id, const char* role) {
  auto it = idToValue_.find(id);
  if (it == idToValue_.end() || values_[it->second].kind == Value::Kind::Absent)
    invalid(nodeLabel(n) + " " + role + " refers to value id " + std::to_string(id) + ", which does not exist");
  values_[it->second].referenced = true;
  return it->second;
}

void XnnpackDelegate::requireF32(const Node& n, uint32_t vi, const char* role) const {
  const Value& v = values_[vi];
  if (v.dqDatatype != DT::xnn_datatype_invalid)
    unsupported(n, std::string("with a dynamically quantized (") + dtypeName(v.dqDatatype) + ") " + role);
  if (v.dtype != DT::xnn_datatype_fp32 || v.quantized)
    unsupported(n, std::string("with ") + dtypeName(v.dtype) + " " + role);
}

// fp32, or fp16 / bf16 (computed in f32 and rounded to the value's precision).
void XnnpackDelegate::requireFloat(const Node& n, uint32_t vi, const char* role) const {
  const Value& v = values_[vi];
  if (v.dqDatatype != DT::xnn_datatype_invalid)
    unsupported(n, std::string("with a dynamically quantized (") + dtypeName(v.dqDatatype) + ") " + role);
  if (!isFloatValue(v)) unsupported(n, std::string("with ") + dtypeName(v.dtype) + " " + role);
}

bool XnnpackDelegate::sameQuant(uint32_t a, uint32_t b) const {
  return values_[a].qscale == values_[b].qscale && values_[a].qzp == values_[b].qzp;
}

// The output range of a node writing qint8 value `out`, in that value's quantized domain
// (XNNPACK's xnn_qs8_quantize of output_min / output_max).
void XnnpackDelegate::quantizedRange(Node& n, uint32_t out) const {
  const Value& o = values_[out];
  auto q = [&](float v) {
    const float r = std::nearbyint(v / o.qscale) + static_cast<float>(o.qzp);
    return static_cast<int8_t>(std::isnan(r) ? 0 : std::min(127.0f, std::max(-128.0f, r)));
  };
  n.qmin = std::isinf(n.outMin) && n.outMin < 0 ? int8_t(-128) : q(n.outMin);
  n.qmax = std::isinf(n.outMax) && n.outMax > 0 ? int8_t(127) : q(n.outMax);
  if (n.qmin >= n.qmax) invalid(nodeLabel(n) + " has an empty int8 output range");
}

// Requantization scales of a static int8 convolution / fully connected node:
// input_scale * filter_scale[oc] / output_scale, computed in float as XNNPACK does,
// within the range Debian's XNNPACK accepts (it asserts below 2^-32).
void XnnpackDelegate::requantScales(Node& n, uint32_t input, uint32_t filter, size_t channels) {
  const Value& x = values_[input];
  const Value& f = values_[filter];
  const Value& o = values_[n.out];
  if (n.qPerChannel) {
    n.oc = channels;
    n.filterScales = perChannelScales(n, filter);
  } else {
    n.filterScales.assign(channels, f.qscale);
  }
  n.qscale.resize(channels);
  for (size_t c = 0; c < channels; ++c) {
    const float fs = n.filterScales[c];
    if (!(fs > 0.0f) || !std::isnormal(fs)) invalid(nodeLabel(n) + " filter has quantization scale " + std::to_string(fs));
    n.qscale[c] = x.qscale * fs / o.qscale;
    if (!(n.qscale[c] >= 0x1.0p-32f && n.qscale[c] < 256.0f))
      unsupported(n, "with requantization scale " + std::to_string(n.qscale[c]) + " (input*filter/output scale)");
  }
}

bool XnnpackDelegate::isQs8(uint32_t vi) const {
  const Value& v = values_[vi];
  return v.dtype == DT::xnn_datatype_qint8 && v.quantized && v.perTensor && v.dqDatatype == DT::xnn_datatype_invalid;
}

// Static per-tensor quantization, the only kind this XNNPACK's operators take.
void XnnpackDelegate::requireQuant(const Node& n, uint32_t vi, DT dtype, const char* role) const {
  const Value& v = values_[vi];
  if (v.dtype != dtype || !v.quantized || v.dqDatatype != DT::xnn_datatype_invalid)
    unsupported(n, std::string("with ") + (v.quantized ? "" : "unquantized ") + dtypeName(v.dtype) + " " + role);
  if (!v.perTensor) unsupported(n, std::string("with a per-channel or dynamically quantized ") + role);
  if (!(v.qscale > 0.0f) || !std::isfinite(v.qscale) || !std::isnormal(v.qscale))
    invalid(nodeLabel(n) + " " + role + " has quantization scale " + std::to_string(v.qscale));
  if (dtype == DT::xnn_datatype_qint8 && (v.qzp < -128 || v.qzp > 127))
    invalid(nodeLabel(n) + " " + role + " has zero point " + std::to_string(v.qzp));
}

// The optional bias is also an input of its node.
void XnnpackDelegate::addBias(Node& n, uint32_t id) {
  n.bias = static_cast<int>(valueRef(n, id, "bias"));
  n.in.push_back(static_cast<uint32_t>(n.bias));
}

void XnnpackDelegate::checkBiasSize(const Node& n, const std::string& at, size_t expected) const {
  uint64_t bn = 0;
  checkedNumel(values_[static_cast<size_t>(n.bias)].dims, &bn);
  if (bn != expected)
    invalid(at + " bias has " + std::to_string(bn) + " elements, expected " + std::to_string(expected));
}

std::vector<size_t> XnnpackDelegate::dimsList(const Node& n, const flatbuffers::Vector<uint32_t>* v,
                                              const char* what) const {
  std::vector<size_t> r;
  if (v == nullptr) invalid(nodeLabel(n) + " has no " + what);
  if (v->size() > kMaxRank) invalid(nodeLabel(n) + " has too many " + what);
  for (uint32_t x : *v) r.push_back(x);
  return r;
}

// ---------------------------------------------------------------------------
// Dispatch

void XnnpackDelegate::parseNodes() {
  const auto* xnodes = payload_.graph->xnodes();
  const size_t n = xnodes ? xnodes->size() : 0;
  nodes_.reserve(n);
  for (size_t i = 0; i < n; ++i) parseNode(xnodes->Get(static_cast<flatbuffers::uoffset_t>(i)), static_cast<uint32_t>(i));
}

void XnnpackDelegate::parseNode(const fx::XNode* xn, uint32_t index) {
  nodes_.emplace_back();
  Node& n = nodes_.back();
  n.index = index;
  if (xn == nullptr) invalid("node " + std::to_string(index) + " is missing");
  n.type = xn->xnode_union_type();
  n.name = nodeTypeName(n.type);
  if (xn->output_min_max() != nullptr) {
    n.outMin = xn->output_min_max()->output_min();
    n.outMax = xn->output_min_max()->output_max();
    if (std::isnan(n.outMin) || std::isnan(n.outMax) || n.outMin > n.outMax)
      invalid(nodeLabel(n) + " has an empty output range");
  }
  const void* table = xn->xnode_union();
  if (table == nullptr && n.type != NT::NONE) invalid(nodeLabel(n) + " has no body");

  auto xnnUnary = [&](const fx::_XNNNode1x1* t, xnnk::Unary u) {
    parseOneToOne(n, t, Op::XnnUnary);
    n.unary = u;
  };
  auto ownUnary = [&](const fx::_XNNNode1x1* t, xnnk::Unary u) {
    parseOneToOne(n, t, Op::OwnUnary);
    n.unary = u;
  };

  switch (n.type) {
    case NT::XNNAdd: parseBinary(n, xn->xnode_union_as_XNNAdd(), xnnk::Binary::Add, true, true); break;
    case NT::XNNSubtract: parseBinary(n, xn->xnode_union_as_XNNSubtract(), xnnk::Binary::Sub, true); break;
    case NT::XNNMultiply: parseBinary(n, xn->xnode_union_as_XNNMultiply(), xnnk::Binary::Mul, true); break;
    case NT::XNNDiv: parseBinary(n, xn->xnode_union_as_XNNDiv(), xnnk::Binary::Div, true); break;
    case NT::XNNMinimum: parseBinary(n, xn->xnode_union_as_XNNMinimum(), xnnk::Binary::Min, false); break;
    case NT::XNNMaximum: parseBinary(n, xn->xnode_union_as_XNNMaximum(), xnnk::Binary::Max, false); break;
    case NT::XNNPReLU:
      parseBinary(n, xn->xnode_union_as_XNNPReLU(), xnnk::Binary::PRelu, false);
      n.op = Op::PRelu;
      break;
    case NT::XNNBatchMatrixMultiply:
      parseBinary(n, xn->xnode_union_as_XNNBatchMatrixMultiply(), xnnk::Binary::Mul, false);
      n.op = Op::BatchMatmul;
      if ((n.flags & ~uint32_t(XNN_FLAG_TRANSPOSE_WEIGHTS)) != 0)
        unsupported(n, "with flags " + std::to_string(n.flags));
      n.transposedWeights = (n.flags & XNN_FLAG_TRANSPOSE_WEIGHTS) != 0;
      break;
    case NT::XNNClamp: xnnUnary(xn->xnode_union_as_XNNClamp(), xnnk::Unary::Clamp); break;
    case NT::XNNSigmoid: xnnUnary(xn->xnode_union_as_XNNSigmoid(), xnnk::Unary::Sigmoid); break;
    case NT::XNNHardswish: xnnUnary(xn->xnode_union_as_XNNHardswish(), xnnk::Unary::Hardswish); break;
    case NT::XNNAbs: xnnUnary(xn->xnode_union_as_XNNAbs(), xnnk::Unary::Abs); break;
    case NT::XNNNegate: xnnUnary(xn->xnode_union_as_XNNNegate(), xnnk::Unary::Negate); break;
    case NT::XNNSquare: xnnUnary(xn->xnode_union_as_XNNSquare(), xnnk::Unary::Square); break;
    case NT::XNNSquareRoot: xnnUnary(xn->xnode_union_as_XNNSquareRoot(), xnnk::Unary::Sqrt); break;
    case NT::XNNFloor: xnnUnary(xn->xnode_union_as_XNNFloor(), xnnk::Unary::Floor); break;
    case NT::XNNCeiling: xnnUnary(xn->xnode_union_as_XNNCeiling(), xnnk::Unary::Ceil); break;
    case NT::XNNLeakyReLU: {
      const auto* t = xn->xnode_union_as_XNNLeakyReLU();
      parseAlphaUnary(n, t->input_id(), t->output_id(), xnnk::Unary::LeakyRelu, t->negative_slope(),
                      "LeakyReLU slope");
      break;
    }
    case NT::XNNELU: {
      const auto* t = xn->xnode_union_as_XNNELU();
      parseAlphaUnary(n, t->input_id(), t->output_id(), xnnk::Unary::Elu, t->alpha(), "ELU alpha");
      break;
    }
    case NT::XNNTanh: ownUnary(xn->xnode_union_as_XNNTanh(), xnnk::Unary::Tanh); break;
    case NT::XNNExp: ownUnary(xn->xnode_union_as_XNNExp(), xnnk::Unary::Exp); break;
    case NT::XNNLog: ownUnary(xn->xnode_union_as_XNNLog(), xnnk::Unary::Log); break;
    case NT::XNNSin: ownUnary(xn->xnode_union_as_XNNSin(), xnnk::Unary::Sin); break;
    case NT::XNNCos: ownUnary(xn->xnode_union_as_XNNCos(), xnnk::Unary::Cos); break;
    case NT::XNNGelu: ownUnary(xn->xnode_union_as_XNNGelu(), xnnk::Unary::Gelu); break;
    case NT::XNNReciprocalSquareRoot:
      ownUnary(xn->xnode_union_as_XNNReciprocalSquareRoot(), xnnk::Unary::Rsqrt);
      break;
    case NT::XNNCopy: ownUnary(xn->xnode_union_as_XNNCopy(), xnnk::Unary::Copy); break;
    case NT::XNNConvert: parseConvert(n, xn->xnode_union_as_XNNConvert()); break;
    case NT::XNNSoftmax: parseOneToOne(n, xn->xnode_union_as_XNNSoftmax(), Op::Softmax); break;
    case NT::XNNFullyConnected: parseFullyConnected(n, xn->xnode_union_as_XNNFullyConnected()); break;
    case NT::XNNConv2d: parseConv(n, xn->xnode_union_as_XNNConv2d(), false); break;
    case NT::XNNDepthwiseConv2d: parseConv(n, xn->xnode_union_as_XNNDepthwiseConv2d(), true); break;
    case NT::XNNMaxPooling2d: parsePool(n, xn->xnode_union_as_XNNMaxPooling2d(), Op::MaxPool2d); break;
    case NT::XNNAvgPooling2d: parsePool(n, xn->xnode_union_as_XNNAvgPooling2d(), Op::AvgPool2d); break;
    case NT::XNNGlobalAvgPooling2d: {
      const auto* t = xn->xnode_union_as_XNNGlobalAvgPooling2d();
      const auto in = idToValue_.find(t->input_id());
      if (in != idToValue_.end() && values_[in->second].quantized) {
        // Static int8: qint8 in and out (per tensor), the mean requantized.
        n.op = Op::QGlobalAvgPool2d;
        n.in = {valueRef(n, t->input_id(), "input")};
        n.out = valueRef(n, t->output_id(), "output");
        n.flags = t->flags();
        requireQuant(n, n.in[0], DT::xnn_datatype_qint8, "input");
        requireQuant(n, n.out, DT::xnn_datatype_qint8, "output");
        quantizedRange(n, n.out);
      } else {
        parseOneToOne(n, t, Op::GlobalAvgPool2d);
      }
      // Newer exports set XNN_FLAG_KEEP_DIMS; older ones relied on a 4-D output value.
      n.keepDims = (n.flags & kFlagKeepDims) != 0 || values_[n.out].dims.size() == 4;
      break;
    }
    case NT::XNNStaticResizeBilinear2D: parseResize(n, xn->xnode_union_as_XNNStaticResizeBilinear2D()); break;
    case NT::XNNStaticTranspose: parseTranspose(n, xn->xnode_union_as_XNNStaticTranspose()); break;
    case NT::XNNStaticReshape: parseReshape(n, xn->xnode_union_as_XNNStaticReshape()); break;
    case NT::XNNStaticSlice: parseSlice(n, xn->xnode_union_as_XNNStaticSlice()); break;
    case NT::XNNStaticConstantPad: parsePad(n, xn->xnode_union_as_XNNStaticConstantPad()); break;
    case NT::XNNConcatenate2: parseConcat(n, xn->xnode_union_as_XNNConcatenate2(), 2); break;
    case NT::XNNConcatenate3: parseConcat(n, xn->xnode_union_as_XNNConcatenate3(), 3); break;
    case NT::XNNConcatenate4: parseConcat(n, xn->xnode_union_as_XNNConcatenate4(), 4); break;
    case NT::XNNConcatenate5: parseConcat(n, xn->xnode_union_as_XNNConcatenate5(), 5); break;
    case NT::XNNConvTranspose2d: parseConvTranspose(n, xn->xnode_union_as_XNNConvTranspose2d()); break;
    case NT::XNNArgMaxPooling2d:
      // The official partitioner delegates max.dim only when its indices are unused, and
      // then lowers it to MaxPooling2d: no official export has this node.
      unsupported(n, "(node type 21, max pooling with indices; no official export emits it)");
    case NT::XNNScaledDotProductAttention:
      // Not implemented by the official runtime either (XNNCompiler), nor emitted by its partitioner.
      unsupported(n, "(node type 36; the official XNNPACK runtime does not implement it either)");
    case NT::NONE:
      invalid("node " + std::to_string(index) + " has no type");
    default:
      fail(ErrorCode::NotSupported, "XnnpackBackend: node ", index, " has unknown type ",
           static_cast<int>(n.type), " (newer than this runtime)", where_);
  }
}

// ---------------------------------------------------------------------------
// Elementwise nodes

// One float input, one float output (fp32, fp16 or bf16).
void XnnpackDelegate::parseInOut(Node& n, uint32_t inputId, uint32_t outputId) {
  n.in = {valueRef(n, inputId, "input")};
  n.out = valueRef(n, outputId, "output");
  requireFloat(n, n.in[0], "input");
  requireFloat(n, n.out, "output");
}

// Nodes that move data (or take a max): float in and out, or per-tensor qint8 in and out
// with the same scale and zero point.
void XnnpackDelegate::parseMoveInOut(Node& n, uint32_t inputId, uint32_t outputId) {
  n.in = {valueRef(n, inputId, "input")};
  n.out = valueRef(n, outputId, "output");
  if (values_[n.in[0]].quantized || values_[n.out].quantized) {
    requireQuant(n, n.in[0], DT::xnn_datatype_qint8, "input");
    requireQuant(n, n.out, DT::xnn_datatype_qint8, "output");
    if (!sameQuant(n.in[0], n.out)) unsupported(n, "with different input and output quantization");
    return;
  }
  requireFloat(n, n.in[0], "input");
  requireFloat(n, n.out, "output");
}

// The nodes serialized as _XNNNode1x1 (unary math, softmax, global average pooling).
void XnnpackDelegate::parseOneToOne(Node& n, const fx::_XNNNode1x1* t, Op op) {
  n.op = op;
  parseInOut(n, t->input_id(), t->output_id());
  n.flags = t->flags();
}

// LeakyReLU and ELU: an XNNPACK unary with a parameter (`what`, for messages).
void XnnpackDelegate::parseAlphaUnary(Node& n, uint32_t inputId, uint32_t outputId, xnnk::Unary u, float alpha,
                                      const char* what) {
  n.op = Op::XnnUnary;
  n.unary = u;
  n.alpha = alpha;
  parseInOut(n, inputId, outputId);
  if (!std::isfinite(n.alpha)) invalid("node " + std::to_string(n.index) + " " + what + " is not finite");
}

// Binary math; `clamps`: whether the node's output range applies (Minimum/Maximum have none);
// `qs8`: whether the node may also take per-tensor qint8 values (Add).
void XnnpackDelegate::parseBinary(Node& n, const fx::_XNNNode2x1* t, xnnk::Binary op, bool clamps, bool qs8) {
  n.op = Op::Binary;
  n.binary = op;
  n.in = {valueRef(n, t->input1_id(), "input1"), valueRef(n, t->input2_id(), "input2")};
  n.out = valueRef(n, t->output_id(), "output");
  n.flags = t->flags();
  if (!clamps) {
    n.outMin = -kInf;
    n.outMax = kInf;
  }
  if (qs8 && (values_[n.in[0]].quantized || values_[n.in[1]].quantized || values_[n.out].quantized)) {
    n.op = Op::QAdd;
    requireQuant(n, n.in[0], DT::xnn_datatype_qint8, "input1");
    requireQuant(n, n.in[1], DT::xnn_datatype_qint8, "input2");
    requireQuant(n, n.out, DT::xnn_datatype_qint8, "output");
    quantizedRange(n, n.out);
    const Value& a = values_[n.in[0]];
    const Value& b = values_[n.in[1]];
    const Value& o = values_[n.out];
    if (!xnnk::qs8AddParams(a.qscale, a.qzp, b.qscale, b.qzp, o.qscale, o.qzp, n.qmin, n.qmax, &n.qadd))
      unsupported(n, "with input-to-output scale ratios outside [2^-10, 2^8)");
    return;
  }
  requireFloat(n, n.in[0], "input1");
  requireFloat(n, n.in[1], "input2");
  requireFloat(n, n.out, "output");
}

// Convert: fp32 -> per-tensor qint8 (Quantize), the reverse (Dequantize), or fp32 -> fp32 (a copy).
void XnnpackDelegate::parseConvert(Node& n, const fx::_XNNNode1x1* t) {
  const uint32_t i = valueRef(n, t->input_id(), "input");
  const uint32_t o = valueRef(n, t->output_id(), "output");
  const Value& vo = values_[o];
  const Value& vi = values_[i];
  const bool inF32 = vi.dtype == DT::xnn_datatype_fp32 && !vi.quantized;
  const bool outF32 = vo.dtype == DT::xnn_datatype_fp32 && !vo.quantized;
  if (inF32 && vi.dqDatatype == DT::xnn_datatype_invalid && vo.dtype == DT::xnn_datatype_qdint8 &&
      vo.dynamicNonBatchDims > 0) {
    parseDynamicQuantize(n, i, o);
    return;
  }
  if (inF32 && isQs8(o) && vi.dqDatatype == DT::xnn_datatype_invalid) {
    n.in = {i};
    n.out = o;
    n.op = Op::Quantize;
    requireQuant(n, o, DT::xnn_datatype_qint8, "output");
    return;
  }
  if (isQs8(i) && outF32) {
    n.in = {i};
    n.out = o;
    n.op = Op::Dequantize;
    requireQuant(n, i, DT::xnn_datatype_qint8, "input");
    return;
  }
  // (No official export converts between float types inside a delegate: the partitioner
  // leaves dtype-changing copies outside.)
  if (!outF32) unsupported(n, "to " + dtypeName(vo.dtype));
  if (!inF32) unsupported(n, "from " + dtypeName(vi.dtype));
  parseOneToOne(n, t, Op::OwnUnary);  // fp32 -> fp32
  n.unary = xnnk::Unary::Copy;
}

// ---------------------------------------------------------------------------
// Fully connected, convolution, pooling, resize

void XnnpackDelegate::parseFullyConnected(Node& n, const fx::XNNFullyConnected* t) {
  const auto in = idToValue_.find(t->input1_id());
  if (in != idToValue_.end() && values_[in->second].dtype == DT::xnn_datatype_qdint8) {
    parseQD8FullyConnected(n, t);
    return;
  }
  // fp32 activations x a per-channel int8 filter: XNNPACK's f32_qc8w (weight-only 8w
  // linears); a qcint8 filter with a qint8 input is the static int8 path below.
  const auto filter = idToValue_.find(t->filter_id());
  if (in != idToValue_.end() && filter != idToValue_.end() && values_[filter->second].dtype == DT::xnn_datatype_qcint8 &&
      values_[in->second].dtype == DT::xnn_datatype_fp32 && !values_[in->second].quantized) {
    parseF32QC8WFullyConnected(n, t);
    return;
  }
  n.op = Op::FullyConnected;
  n.in = {valueRef(n, t->input1_id(), "input"), valueRef(n, t->filter_id(), "filter")};
  n.out = valueRef(n, t->output_id(), "output");
  const Value& fv = values_[n.in[1]];
  const bool int8 = fv.quantized && (fv.dtype == DT::xnn_datatype_qint8 || fv.dtype == DT::xnn_datatype_qcint8);
  if (int8) {
    // Static int8: qint8 input and output (per tensor); qint8 (per tensor) or qcint8 (per output
    // channel) filter with zero point 0; qint32 / qcint32 bias.
    n.op = Op::QFullyConnected;
    n.qPerChannel = fv.dtype == DT::xnn_datatype_qcint8;
    if (n.qPerChannel) {
      if (fv.perChannel == nullptr) unsupported(n, "with a qcint8 filter without per-channel scales");
      if (fv.perChannel->channel_dim() != 0)
        unsupported(n, "with filter scales along dim " + std::to_string(fv.perChannel->channel_dim()));
    } else {
      requireQuant(n, n.in[1], DT::xnn_datatype_qint8, "filter");
      if (fv.qzp != 0) unsupported(n, "with an asymmetric (zero point != 0) filter");
    }
    requireQuant(n, n.in[0], DT::xnn_datatype_qint8, "input");
    requireQuant(n, n.out, DT::xnn_datatype_qint8, "output");
    if (fv.kind != Value::Kind::Constant) unsupported(n, "with a runtime int8 filter");
  } else {
    requireFloat(n, n.in[1], "filter");
    requireFloat(n, n.in[0], "input");
  }
  if (t->bias_id() != kInvalidId) {
    addBias(n, t->bias_id());
    if (int8) {
      const Value& b = values_[static_cast<size_t>(n.bias)];
      if (!b.quantized || (b.dtype != DT::xnn_datatype_qint32 && b.dtype != DT::xnn_datatype_qcint32))
        unsupported(n, "int8 with a " + dtypeName(b.dtype) + " bias");
      if (b.kind != Value::Kind::Constant) unsupported(n, "with a runtime int32 bias");
    } else {
      requireFloat(n, static_cast<uint32_t>(n.bias), "bias");
    }
  }
  if (!int8) requireFloat(n, n.out, "output");
  n.flags = t->flags();
  if ((n.flags & ~uint32_t(XNN_FLAG_TRANSPOSE_WEIGHTS)) != 0)
    unsupported(n, "with flags " + std::to_string(n.flags));
  if (n.op == Op::QFullyConnected && n.flags != 0) unsupported(n, "int8 with transposed weights");
  n.transposedWeights = (n.flags & XNN_FLAG_TRANSPOSE_WEIGHTS) != 0;
  const Value& f = values_[n.in[1]];
  const std::string at = "node " + std::to_string(n.index) + " FullyConnected";
  if (f.dims.size() != 2) invalid(at + " filter has shape " + shapeStr(f.dims) + ", expected 2 dims");
  n.oc = n.transposedWeights ? f.dims[1] : f.dims[0];
  n.ic = n.transposedWeights ? f.dims[0] : f.dims[1];
  if (n.ic == 0 || n.oc == 0) invalid(at + " has an empty filter");
  if (n.bias >= 0) checkBiasSize(n, at, n.oc);
  if (int8) {
    quantizedRange(n, n.out);
    requantScales(n, n.in[0], n.in[1], n.oc);
  }
}

// The parameters Conv2d, DepthwiseConv2d and ConvTranspose2d share, with a constant filter and bias.
void XnnpackDelegate::readConvWindow(Node& n, const fx::_XNNNodeConv* t) {
  n.flags = t->flags();
  if (n.flags != 0) unsupported(n, "with flags " + std::to_string(n.flags));
  readPadding(n, t);
  n.kh = t->kernel_height(); n.kw = t->kernel_width();
  n.sh = t->subsampling_height(); n.sw = t->subsampling_width();
  n.dh = t->dilation_height(); n.dw = t->dilation_width();
  const std::string at = nodeLabel(n);
  if (n.kh == 0 || n.kw == 0 || n.sh == 0 || n.sw == 0 || n.dh == 0 || n.dw == 0)
    invalid(at + " has a zero kernel size, stride or dilation");
  if (absurdWindow(n) || n.sh > 65536 || n.sw > 65536) invalid(at + " has absurd kernel/stride/padding sizes");
  if (t->groups() == 0 || t->group_input_channels() == 0 || t->group_output_channels() == 0)
    invalid(at + " has zero channels or groups");
  if (values_[n.in[1]].kind != Value::Kind::Constant) unsupported(n, "with a runtime (non-constant) filter");
  if (n.bias >= 0 && values_[static_cast<size_t>(n.bias)].kind != Value::Kind::Constant)
    unsupported(n, "with a runtime (non-constant) bias");
  n.groups = t->groups();
}

// Conv2d and DepthwiseConv2d: float, or static int8 (qint8 input/output, qint8 or qcint8 filter,
// qint32 / qcint32 bias).
void XnnpackDelegate::parseConv(Node& n, const fx::_XNNNodeConv* t, bool depthwise) {
  n.op = Op::Conv2d;
  n.depthwise = depthwise;
  n.in = {valueRef(n, t->input1_id(), "input"), valueRef(n, t->filter_id(), "filter")};
  n.out = valueRef(n, t->output_id(), "output");
  const Value& fv = values_[n.in[1]];
  const bool int8 = values_[n.in[0]].quantized || fv.quantized;
  if (int8) {
    n.op = Op::QConv2d;
    requireQuant(n, n.in[0], DT::xnn_datatype_qint8, "input");
    requireQuant(n, n.out, DT::xnn_datatype_qint8, "output");
    n.qPerChannel = fv.dtype == DT::xnn_datatype_qcint8;
    if (n.qPerChannel) {
      if (!fv.quantized || fv.perChannel == nullptr) unsupported(n, "with a qcint8 filter without per-channel scales");
      // Scales along the output channels: dim 0 of [OC, KH, KW, IC], dim 3 of the depthwise [1, KH, KW, OC].
      const int32_t want = depthwise ? 3 : 0;
      if (fv.perChannel->channel_dim() != want)
        unsupported(n, "with filter scales along dim " + std::to_string(fv.perChannel->channel_dim()));
    } else {
      requireQuant(n, n.in[1], DT::xnn_datatype_qint8, "filter");
      if (fv.qzp != 0) unsupported(n, "with an asymmetric (zero point != 0) filter");
    }
  } else {
    requireFloat(n, n.in[0], "input");
    requireFloat(n, n.in[1], "filter");
    requireFloat(n, n.out, "output");
  }
  if (t->bias_id() != kInvalidId) {
    addBias(n, t->bias_id());
    const Value& b = values_[static_cast<size_t>(n.bias)];
    if (!int8)
      requireFloat(n, static_cast<uint32_t>(n.bias), "bias");
    else if (!b.quantized || (b.dtype != DT::xnn_datatype_qint32 && b.dtype != DT::xnn_datatype_qcint32))
      unsupported(n, "int8 with a " + dtypeName(b.dtype) + " bias");
  }
  readConvWindow(n, t);
  const std::string at = nodeLabel(n);
  const Value& f = values_[n.in[1]];
  Shape want;
  if (depthwise) {
    if (t->group_output_channels() % t->group_input_channels() != 0)
      invalid(at + " output channels are not a multiple of its input channels");
    // groups = input channels, goc = depth multiplier.
    n.gic = 1;
    n.goc = t->group_output_channels() / t->group_input_channels();
    want = {1, n.kh, n.kw, n.groups * n.goc};
  } else {
    n.gic = t->group_input_channels();
    n.goc = t->group_output_channels();
    want = {n.groups * n.goc, n.kh, n.kw, n.gic};
  }
  if (f.dims != want) invalid(at + " filter has shape " + shapeStr(f.dims) + ", expected " + shapeStr(want));
  uint64_t total = 0;
  if (!checkedNumel({n.groups, n.goc, n.gic, n.kh, n.kw}, &total)) invalid(at + " is absurdly large");
  if (n.bias >= 0) checkBiasSize(n, at, n.groups * n.goc);
  if (int8) {
    quantizedRange(n, n.out);
    requantScales(n, n.in[0], n.in[1], n.groups * n.goc);
  }
}

// ConvTranspose2d (float): filter [groups * goc, KH, KW, gic], as the partitioner writes it
// (PyTorch's [IC, OC/groups, KH, KW] regrouped per group and made channels-last).
void XnnpackDelegate::parseConvTranspose(Node& n, const fx::_XNNNodeConv* t) {
  n.op = Op::ConvTranspose2d;
  n.in = {valueRef(n, t->input1_id(), "input"), valueRef(n, t->filter_id(), "filter")};
  n.out = valueRef(n, t->output_id(), "output");
  requireFloat(n, n.in[0], "input");
  requireFloat(n, n.in[1], "filter");
  requireFloat(n, n.out, "output");
  if (t->bias_id() != kInvalidId) {
    addBias(n, t->bias_id());
    requireFloat(n, static_cast<uint32_t>(n.bias), "bias");
  }
  readConvWindow(n, t);
  n.adjH = t->adjustment_height();
  n.adjW = t->adjustment_width();
  const std::string at = nodeLabel(n);
  // PyTorch requires output_padding < max(stride, dilation).
  if (n.adjH >= std::max(n.sh, n.dh) || n.adjW >= std::max(n.sw, n.dw))
    invalid(at + " has an adjustment (output padding) not smaller than its stride or dilation");
  n.gic = t->group_input_channels();
  n.goc = t->group_output_channels();
  const Shape want = {n.groups * n.goc, n.kh, n.kw, n.gic};
  const Value& f = values_[n.in[1]];
  if (f.dims != want) invalid(at + " filter has shape " + shapeStr(f.dims) + ", expected " + shapeStr(want));
  uint64_t total = 0;
  if (!checkedNumel({n.groups, n.goc, n.gic, n.kh, n.kw}, &total)) invalid(at + " is absurdly large");
  if (n.bias >= 0) checkBiasSize(n, at, n.groups * n.goc);
}

// MaxPooling2d and AvgPooling2d (average pooling has no dilation).
void XnnpackDelegate::parsePool(Node& n, const fx::_XNNPooling2D* t, Op op) {
  n.op = op;
  if (op == Op::MaxPool2d) {
    parseMoveInOut(n, t->input_id(), t->output_id());
    if (values_[n.in[0]].quantized) {
      n.op = Op::QMaxPool2d;
      quantizedRange(n, n.out);
    }
  } else {
    parseInOut(n, t->input_id(), t->output_id());
  }
  n.flags = t->flags();
  if ((n.flags & ~kFlagKeepDims) != 0) unsupported(n, "with flags " + std::to_string(n.flags));
  readPadding(n, t);
  n.kh = t->pooling_height(); n.kw = t->pooling_width();
  n.sh = t->stride_height(); n.sw = t->stride_width();
  n.dh = op == Op::AvgPool2d ? 1 : t->dilation_height();
  n.dw = op == Op::AvgPool2d ? 1 : t->dilation_width();
  if (op == Op::MaxPool2d && n.dh == 0) n.dh = 1;
  if (op == Op::MaxPool2d && n.dw == 0) n.dw = 1;
  if (n.sh > 65536 || n.sw > 65536) invalid(nodeLabel(n) + " has an absurd stride");
  const std::string at = nodeLabel(n);
  if (n.kh == 0 || n.kw == 0 || n.sh == 0 || n.sw == 0)
    invalid(at + " has a zero pooling size or stride");
  if (absurdWindow(n)) invalid(at + " has absurd pooling/padding sizes");
}

void XnnpackDelegate::parseResize(Node& n, const fx::XNNStaticResizeBilinear2D* t) {
  n.op = Op::ResizeBilinear2d;
  parseInOut(n, t->input_id(), t->output_id());
  n.flags = t->flags();
  if ((n.flags & ~uint32_t(XNN_FLAG_ALIGN_CORNERS | XNN_FLAG_TENSORFLOW_LEGACY_MODE)) != 0)
    unsupported(n, "with flags " + std::to_string(n.flags));
  n.newH = t->new_height();
  n.newW = t->new_width();
  if (n.newH == 0 || n.newW == 0 || n.newH > (1u << 24) || n.newW > (1u << 24))
    invalid("node " + std::to_string(n.index) + " ResizeBilinear2D has an absurd output size");
}

// ---------------------------------------------------------------------------
// Data movement

void XnnpackDelegate::parseTranspose(Node& n, const fx::XNNStaticTranspose* t) {
  n.op = Op::Transpose;
  parseMoveInOut(n, t->input_id(), t->output_id());
  n.a = dimsList(n, t->perm(), "perm");
  if (t->num_dims() != n.a.size()) invalid(nodeLabel(n) + " num_dims differs from perm");
  std::vector<bool> seen(n.a.size(), false);
  for (size_t p : n.a) {
    if (p >= n.a.size() || seen[p]) invalid(nodeLabel(n) + " perm is not a permutation");
    seen[p] = true;
  }
}

void XnnpackDelegate::parseReshape(Node& n, const fx::XNNStaticReshape* t) {
  n.op = Op::Reshape;
  parseMoveInOut(n, t->input_id(), t->output_id());
  n.a = dimsList(n, t->new_shape(), "new_shape");
  if (t->num_dims() != n.a.size()) invalid(nodeLabel(n) + " num_dims differs from new_shape");
  if (std::count(n.a.begin(), n.a.end(), size_t(0)) > 1) unsupported(n, "with more than one inferred dimension");
  uint64_t tmp = 0;
  Shape known;
  for (size_t d : n.a) if (d) known.push_back(d);
  if (!checkedNumel(known, &tmp)) invalid(nodeLabel(n) + " has an absurd shape");
}

void XnnpackDelegate::parseSlice(Node& n, const fx::XNNStaticSlice* t) {
  n.op = Op::Slice;
  parseMoveInOut(n, t->input_id(), t->output_id());
  n.a = dimsList(n, t->offsets(), "offsets");
  n.b = dimsList(n, t->sizes(), "sizes");
  if (t->num_dims() != n.a.size() || n.a.size() != n.b.size())
    invalid(nodeLabel(n) + " num_dims, offsets and sizes disagree");
}

void XnnpackDelegate::parsePad(Node& n, const fx::XNNStaticConstantPad* t) {
  n.op = Op::Pad;
  parseInOut(n, t->input_id(), t->output_id());
  n.a = dimsList(n, t->pre_paddings(), "pre_paddings");
  n.b = dimsList(n, t->post_paddings(), "post_paddings");
  n.alpha = t->padding_value();
  if (n.a.size() != n.b.size()) invalid(nodeLabel(n) + " pre and post paddings differ in length");
  for (size_t k = 0; k < n.a.size(); ++k)
    if (n.a[k] > (1u << 24) || n.b[k] > (1u << 24)) invalid(nodeLabel(n) + " has absurd paddings");
}

// Concatenate2..5: `count` inputs.
void XnnpackDelegate::parseConcat(Node& n, const fx::_XNNCat* t, int count) {
  n.op = Op::Concat;
  const uint32_t ids[5] = {t->input1_id(), t->input2_id(), t->input3_id(), t->input4_id(), t->input5_id()};
  static const char* roles[5] = {"input1", "input2", "input3", "input4", "input5"};
  n.out = valueRef(n, t->output_id(), "output");
  const bool int8 = values_[n.out].quantized;
  if (int8)
    requireQuant(n, n.out, DT::xnn_datatype_qint8, "output");
  else
    requireFloat(n, n.out, "output");
  for (int k = 0; k < count; ++k) {
    n.in.push_back(valueRef(n, ids[k], roles[k]));
    if (!int8) {
      requireFloat(n, n.in.back(), roles[k]);
      continue;
    }
    // qint8: the values are only moved, so every input must share the output's quantization.
    requireQuant(n, n.in.back(), DT::xnn_datatype_qint8, roles[k]);
    if (!sameQuant(n.in.back(), n.out)) unsupported(n, std::string("with ") + roles[k] + " quantized unlike the output");
  }
  n.axis = t->axis();
  n.flags = t->flags();
}

}  // namespace xnnpack
}  // namespace etn
