// Execution: bind the DelegateCall's tensors to the external values, then per
// node infer the output shape, find memory for the output and compute it with
// the node's XNNPACK operator or our own loop.
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "../../runtime/error.h"
#include "../../runtime/scalar_type.h"
#include "xnnpack_delegate.h"

namespace etn {
namespace xnnpack {
namespace {

constexpr size_t kXnnMaxDims = XNN_MAX_TENSOR_DIMS;

}  // namespace

void XnnpackDelegate::execute(EValue** args, size_t count) {
  bindExternals(args, count);
  for (Value& v : values_) {
    if (v.kind == Value::Kind::Constant && v.referenced) {
      v.shape = v.dims;
      uint64_t numel = 0;
      checkedNumel(v.dims, &numel);
      v.numel = static_cast<size_t>(numel);
      v.data = const_cast<float*>(v.constData);
    } else if (v.kind == Value::Kind::Internal || v.kind == Value::Kind::Output) {
      v.shape.clear();
      v.numel = 0;
      v.data = nullptr;
    }
  }
  try {
    for (Node& n : nodes_) runNode(n);
  } catch (const std::bad_alloc&) {
    fail(ErrorCode::OutOfMemory, "XnnpackBackend: out of memory", where_);
  }
}

void XnnpackDelegate::bindExternals(EValue** args, size_t count) {
  if (count != numExterns_)
    fail(ErrorCode::InvalidProgram, "XnnpackBackend: the delegate call passes ", count,
         " arguments, the graph has ", numExterns_, " external values", where_);
  for (uint32_t e = 0; e < numExterns_; ++e) {
    if (externalValue_[e] == kInvalidId) continue;  // an argument the graph does not read
    Value& v = values_[externalValue_[e]];
    EValue* a = args[e];
    if (a == nullptr || a->tag != Tag::Tensor || a->tensor == nullptr)
      fail(ErrorCode::InvalidProgram, "XnnpackBackend: delegate argument ", e, " is not a tensor", where_);
    Tensor* t = a->tensor;
    const ScalarType want = v.dtype == DT::xnn_datatype_fp16    ? ScalarType::Half
                            : v.dtype == DT::xnn_datatype_bf16  ? ScalarType::BFloat16
                            : v.dtype == DT::xnn_datatype_qint8 ? ScalarType::Char
                                                                : ScalarType::Float;
    if (t->dtype() != want)
      fail(ErrorCode::InvalidArgument, "XnnpackBackend: delegate argument ", e, " is ", t->describe(),
           ", the graph expects ", scalarTypeName(want), where_);
    if (t->dim() > static_cast<int64_t>(kMaxRank))
      fail(ErrorCode::NotSupported, "XnnpackBackend: delegate argument ", e, " has ", t->dim(), " dims", where_);
    v.tensor = t;
    v.copyBack = false;
    if (v.kind != Value::Kind::Input) continue;
    // XNNPACK sees the physical layout: sizes permuted by the dim order.
    const auto& order = t->dimOrder();
    v.shape.resize(static_cast<size_t>(t->dim()));
    for (size_t k = 0; k < v.shape.size(); ++k) v.shape[k] = static_cast<size_t>(t->size(order[k]));
    v.numel = static_cast<size_t>(t->numel());
    v.data = t->dataAs<float>();
    if (v.numel > 0 && v.data == nullptr)
      fail(ErrorCode::InvalidProgram, "XnnpackBackend: delegate input ", e, " has no memory", where_);
    if (isLowFloat(v)) {
      // fp16 / bf16 inputs are computed in f32: converted (exactly) into our buffer.
      float* p = v.scratch.ensure(v.numel, memoryLimit_);
      const auto* bits = static_cast<const uint16_t*>(t->data());
      if (v.dtype == DT::xnn_datatype_fp16)
        xnnk::fp16ToFloat(bits, p, v.numel);
      else
        xnnk::bf16ToFloatArray(bits, p, v.numel);
      v.data = p;
      v.copyBack = true;  // for src(): the data is already in our padded buffer
    }
  }
}

// A pointer XNNPACK and our loops may read: aligned, with readable slack after the end.
const float* XnnpackDelegate::src(uint32_t vi) {
  Value& v = values_[vi];
  if (v.kind == Value::Kind::Internal || v.numel == 0) return v.data;
  if (v.kind == Value::Kind::Constant) {
    if (!v.constPadded && !safeForXnn(v.constData, v.numel * v.elemSize)) {
      float* p = v.constCopy.ensure((v.numel * v.elemSize + 3) / 4, memoryLimit_);
      std::memcpy(p, v.constData, v.numel * v.elemSize);
      v.constData = p;
      v.constPadded = true;
      v.data = p;
    }
    return v.data;
  }
  static_assert(Tensor::kReadSlack >= XNN_EXTRA_BYTES, "planned memory must cover XNNPACK's over-read");
  const size_t bytes = v.numel * v.elemSize;
  if ((v.tensor && v.tensor->overreadable()) || safeForXnn(v.data, bytes)) return v.data;
  if (v.copyBack) return v.data;  // already our scratch buffer
  float* p = v.scratch.ensure((bytes + 3) / 4, memoryLimit_);
  std::memcpy(p, v.data, bytes);
  return p;
}

void XnnpackDelegate::prepareOutput(Node& n, const Shape& shape) {
  Value& v = values_[n.out];
  uint64_t numel = 0;
  if (!checkedNumel(shape, &numel) || shape.size() > kMaxRank)
    fail(ErrorCode::OutOfMemory, "XnnpackBackend: node ", n.index, " ", n.name, " would produce ", shapeStr(shape),
         where_);
  v.shape = shape;
  v.numel = static_cast<size_t>(numel);
  if (v.kind == Value::Kind::Internal) {
    v.data = (*slots_)[static_cast<size_t>(v.slot)].ensure((v.numel * v.elemSize + 3) / 4, memoryLimit_);
    return;
  }
  // External output: resize the DelegateCall's tensor (logical sizes = physical ones un-permuted).
  Tensor* t = v.tensor;
  const std::string what = "XnnpackBackend output " + std::to_string(v.externalId) + where_;
  if (static_cast<size_t>(t->dim()) == shape.size()) {
    std::vector<int64_t> logical(shape.size());
    const auto& order = t->dimOrder();
    for (size_t k = 0; k < shape.size(); ++k) logical[order[k]] = static_cast<int64_t>(shape[k]);
    t->resize(logical, what.c_str());
  } else if (static_cast<uint64_t>(t->numel()) != numel) {
    fail(ErrorCode::InvalidArgument, what, ": the graph produces ", shapeStr(shape), ", the tensor is ",
         t->describe());
  }
  if (t->data() == nullptr && t->capacityBytes() > 0) {
    // Not memory-planned: the delegate owns this output's memory.
    t->setData(v.owned.ensure(static_cast<size_t>(t->boundNumel()), memoryLimit_));
  }
  if (v.numel > 0 && t->data() == nullptr) fail(ErrorCode::InvalidProgram, what, " has no memory");
  v.data = t->dataAs<float>();
  v.copyBack = false;
  if (isLowFloat(v)) {
    // Computed in f32, converted into the fp16 / bf16 tensor after the node.
    v.data = v.scratch.ensure(v.numel, memoryLimit_);
    v.copyBack = true;
  } else if (v.numel > 0 && reinterpret_cast<uintptr_t>(v.data) % alignof(float) != 0) {
    v.data = v.scratch.ensure(v.numel, memoryLimit_);
    v.copyBack = true;
  }
}

void XnnpackDelegate::runNode(Node& n) {
  const Shape shape = inferShape(n);
  prepareOutput(n, shape);
  Value& o = values_[n.out];
  if (o.numel > 0) {
    bool anyEmpty = false;
    for (uint32_t vi : n.in) anyEmpty = anyEmpty || values_[vi].numel == 0;
    if (anyEmpty && n.op != Op::Concat && n.op != Op::Pad) {
      // Only padding and concatenation can make something from nothing; other
      // nodes with an empty input have an empty output (or a reduction of nothing).
      std::memset(o.data, 0, o.numel * o.elemSize);
    } else {
      compute(n, shape);
    }
    // fp16 / bf16 values: the node computed in f32; keep the value's precision.
    if (o.dtype == DT::xnn_datatype_fp16 && isLowFloat(o)) xnnk::roundToFp16(o.data, o.numel);
    if (o.dtype == DT::xnn_datatype_bf16 && isLowFloat(o)) xnnk::roundToBf16(o.data, o.numel);
  }
  if (o.copyBack) {
    auto* bits = static_cast<uint16_t*>(o.tensor->data());
    if (!isLowFloat(o))
      std::memcpy(o.tensor->data(), o.data, o.numel * sizeof(float));
    else if (o.dtype == DT::xnn_datatype_fp16)
      xnnk::floatToFp16(o.data, bits, o.numel);
    else
      xnnk::floatToBf16Array(o.data, bits, o.numel);
  }
}

// `setup` is the status of the node's xnn_setup_* call.
void XnnpackDelegate::setupAndRun(const Node& n, xnn_status setup) {
  check(n, setup, "setup");
  check(n, xnn_run_operator(n.xop.get(), pool_), "run");
}

// The output (non-empty, inputs non-empty but for Concat and Pad) of node n.
void XnnpackDelegate::compute(Node& n, const Shape& shape) {
  const Value& o = values_[n.out];
  float* out = o.data;
  const Shape& x = values_[n.in[0]].shape;
  switch (n.op) {
    case Op::Binary: {
      const Shape& y = values_[n.in[1]].shape;
      const float* a = src(n.in[0]);
      const float* b = src(n.in[1]);
      if (n.xop && !x.empty() && !y.empty() && x.size() <= kXnnMaxDims && y.size() <= kXnnMaxDims)
        setupAndRun(n, n.setupBinary(n.xop.get(), x.size(), x.data(), y.size(), y.data(), a, b, out, pool_));
      else
        xnnk::binary(n.binary, a, x, b, y, out, shape, n.outMin, n.outMax);
      break;
    }
    case Op::PRelu:
      xnnk::binary(xnnk::Binary::PRelu, src(n.in[0]), x, src(n.in[1]), values_[n.in[1]].shape, out, shape, -kInf,
                   kInf);
      break;
    case Op::XnnUnary: {
      const float* a = src(n.in[0]);
      if (n.xop)
        setupAndRun(n, n.setupUnary(n.xop.get(), o.numel, a, out, pool_));
      else
        xnnk::unary(n.unary, a, out, o.numel, n.alpha, n.outMin, n.outMax);
      break;
    }
    case Op::OwnUnary:
      xnnk::unary(n.unary, src(n.in[0]), out, o.numel, n.alpha, n.outMin, n.outMax);
      break;
    case Op::Softmax: {
      const size_t channels = x.empty() ? 1 : x.back();
      if (ensureChannelsOp(n, channels))
        setupAndRun(n, xnn_setup_softmax_nc_f32(n.xop.get(), o.numel / channels, src(n.in[0]), out, pool_));
      else
        xnnk::softmax(src(n.in[0]), o.numel / channels, channels, out);
      break;
    }
    case Op::FullyConnected: {
      const size_t batch = o.numel / n.oc;
      if (n.xop) {
        setupAndRun(n, xnn_setup_fully_connected_nc_f32(n.xop.get(), batch, src(n.in[0]), out, pool_));
      } else {
        const float* bias = n.bias >= 0 ? src(static_cast<uint32_t>(n.bias)) : nullptr;
        xnnk::fullyConnected(src(n.in[0]), src(n.in[1]), bias, out, batch, n.ic, n.oc, n.transposedWeights,
                             n.outMin, n.outMax);
      }
      break;
    }
    case Op::ConvTranspose2d:
      if (n.xop) {
        setupAndRun(n, xnn_setup_deconvolution2d_nhwc_f32(n.xop.get(), x[0], x[1], x[2], n.adjH, n.adjW, src(n.in[0]),
                                                          out, pool_));
      } else {
        const float* bias = n.bias >= 0 ? src(static_cast<uint32_t>(n.bias)) : nullptr;
        xnnk::Conv2dParams p = convParams(n);
        xnnk::deconv2dNhwc(src(n.in[0]), x[0], x[1], x[2], src(n.in[1]), bias, p, out, shape[1], shape[2], n.outMin,
                           n.outMax);
      }
      break;
    case Op::QConv2d:
    case Op::QAdd:
    case Op::QMaxPool2d:
    case Op::QGlobalAvgPool2d:
    case Op::QFullyConnected:
      runQuantized(n, shape);
      break;
    case Op::Conv2d:
      if (n.xop) {
        setupAndRun(n, xnn_setup_convolution2d_nhwc_f32(n.xop.get(), x[0], x[1], x[2], src(n.in[0]), out, pool_));
      } else {
        const float* bias = n.bias >= 0 ? src(static_cast<uint32_t>(n.bias)) : nullptr;
        xnnk::conv2dNhwc(src(n.in[0]), x[0], x[1], x[2], src(n.in[1]), bias, convParams(n), out, shape[1], shape[2],
                         n.outMin, n.outMax);
      }
      break;
    case Op::MaxPool2d:
    case Op::AvgPool2d: {
      const bool isMax = n.op == Op::MaxPool2d;
      if (ensureChannelsOp(n, x[3])) {
        const auto setup = isMax ? xnn_setup_max_pooling2d_nhwc_f32 : xnn_setup_average_pooling2d_nhwc_f32;
        setupAndRun(n, setup(n.xop.get(), x[0], x[1], x[2], src(n.in[0]), out, pool_));
      } else {
        xnnk::pool2dNhwc(isMax, src(n.in[0]), x[0], x[1], x[2], x[3], convParams(n), out, shape[1], shape[2],
                         n.outMin, n.outMax);
      }
      break;
    }
    case Op::GlobalAvgPool2d:
      // Our loop, not Debian's XNNPACK: current XNNPACK (what official runtimes use)
      // computes this mean as a plain sequential f32 sum times 1/(H*W), and so does
      // this loop, bit for bit; the 2022 operator sums in another order (differs by
      // ~1e-4 relative over a 1024x1024 image).
      xnnk::globalAvgPool(src(n.in[0]), x[0], x[1] * x[2], x[3], out, n.outMin, n.outMax);
      break;
    case Op::ResizeBilinear2d:
      ensureChannelsOp(n, x[3]);
      setupAndRun(n, xnn_setup_resize_bilinear2d_nhwc_f32(n.xop.get(), x[0], x[1], x[2], n.newH, n.newW,
                                                          src(n.in[0]), out, pool_));
      break;
    case Op::Quantize:
      setupAndRun(n, xnn_setup_convert_nc_f32_qs8(n.xop.get(), o.numel, src(n.in[0]), reinterpret_cast<int8_t*>(out),
                                                  pool_));
      break;
    case Op::Dequantize:
      setupAndRun(n, xnn_setup_convert_nc_qs8_f32(n.xop.get(), o.numel, reinterpret_cast<const int8_t*>(src(n.in[0])),
                                                  out, pool_));
      break;
    case Op::DynamicQuantize:
      runDynamicQuantize(n);
      break;
    case Op::QD8FullyConnected:
      runQD8FullyConnected(n);
      break;
    case Op::F32QC8WFullyConnected:
      runF32QC8WFullyConnected(n);
      break;
    case Op::Transpose:
      xnnk::transpose(src(n.in[0]), x, n.a, out, o.elemSize);
      break;
    case Op::Reshape:
      std::memcpy(out, src(n.in[0]), o.numel * o.elemSize);
      break;
    case Op::Slice:
      xnnk::slice(src(n.in[0]), x, n.a, shape, out, o.elemSize);
      break;
    case Op::Concat: {
      std::vector<const void*> ins;
      std::vector<Shape> shapes;
      for (uint32_t vi : n.in) {
        ins.push_back(src(vi));
        shapes.push_back(values_[vi].shape);
      }
      xnnk::concat(ins, shapes, n.axis, out, o.elemSize);
      break;
    }
    case Op::Pad:
      xnnk::constantPad(src(n.in[0]), x, n.a, shape, n.alpha, out);
      break;
    case Op::BatchMatmul:
      xnnk::batchMatmul(src(n.in[0]), x, src(n.in[1]), values_[n.in[1]].shape, out, shape, n.transposedWeights);
      break;
  }
}

// Static int8 nodes: XNNPACK's qs8 / qc8 operators, or our loops (reference mode, or
// parameters this XNNPACK refuses). Max pooling is always ours: a max needs no rounding.
void XnnpackDelegate::runQuantized(Node& n, const Shape& shape) {
  const Value& o = values_[n.out];
  const Value& xv = values_[n.in[0]];
  const Shape& x = xv.shape;
  const auto* in = reinterpret_cast<const int8_t*>(src(n.in[0]));
  auto* out = reinterpret_cast<int8_t*>(o.data);
  const int32_t* bias =
      n.bias >= 0 ? reinterpret_cast<const int32_t*>(src(static_cast<uint32_t>(n.bias))) : nullptr;
  xnnk::QConvParams q;
  q.izp = xv.qzp;
  q.ozp = o.qzp;
  q.qmin = n.qmin;
  q.qmax = n.qmax;
  q.scale = n.qscale.data();
  switch (n.op) {
    case Op::QConv2d: {
      if (n.xop) {
        const auto setup = n.qPerChannel ? xnn_setup_convolution2d_nhwc_qc8 : xnn_setup_convolution2d_nhwc_qs8;
        setupAndRun(n, setup(n.xop.get(), x[0], x[1], x[2], in, out, pool_));
      } else {
        const auto* filter = reinterpret_cast<const int8_t*>(src(n.in[1]));
        xnnk::conv2dQs8(in, x[0], x[1], x[2], filter, bias, convParams(n), q, out, shape[1], shape[2]);
      }
      break;
    }
    case Op::QFullyConnected: {
      const size_t rows = o.numel / n.oc;
      if (n.xop && !n.qPerChannel) {
        setupAndRun(n, xnn_setup_fully_connected_nc_qs8(n.xop.get(), rows, in, out, pool_));
      } else if (n.xop) {
        setupAndRun(n, xnn_setup_convolution2d_nhwc_qc8(n.xop.get(), 1, 1, rows, in, out, pool_));
      } else {
        xnnk::Conv2dParams p;  // 1x1 convolution over a 1 x rows image
        p.gic = n.ic;
        p.goc = n.oc;
        const auto* filter = reinterpret_cast<const int8_t*>(src(n.in[1]));
        xnnk::conv2dQs8(in, 1, 1, rows, filter, bias, p, q, out, 1, rows);
      }
      break;
    }
    case Op::QAdd: {
      const Shape& y = values_[n.in[1]].shape;
      const auto* b = reinterpret_cast<const int8_t*>(src(n.in[1]));
      if (n.xop && !x.empty() && !y.empty() && x.size() <= kXnnMaxDims && y.size() <= kXnnMaxDims)
        setupAndRun(n, xnn_setup_add_nd_qs8(n.xop.get(), x.size(), x.data(), y.size(), y.data(), in, b, out, pool_));
      else
        xnnk::addQs8(in, x, b, y, out, shape, n.qadd);
      break;
    }
    case Op::QMaxPool2d:
      xnnk::maxPool2dS8(in, x[0], x[1], x[2], x[3], convParams(n), out, shape[1], shape[2], n.qmin, n.qmax);
      break;
    case Op::QGlobalAvgPool2d:
      xnnk::globalAvgPoolS8(in, x[0], x[1] * x[2], x[3], xv.qscale, xv.qzp, o.qscale, o.qzp, n.qmin, n.qmax, out);
      break;
    default:
      break;
  }
}

}  // namespace xnnpack
}  // namespace etn
