// Dynamically quantized linears, what 8da4w and 8da8w exports delegate:
//
//   Convert(fp32 -> qdint8)            per-row int8 with a scale and zero point
//                                      chosen per call (PerTokenDynamicQuant)
//   FullyConnected(qdint8, filter)     filter qbint4 (4-bit, bf16 block scales),
//                                      qcint4 or qcint8 (per-channel f32 scales),
//                                      fp32 bias and output
//
// Debian's XNNPACK has neither, so both run on our microkernels
// (native/microkernels): rows are quantized with XNNPACK's parameter choice and
// the filter is packed once, when the delegate is created.
#include <cstring>
#include <string>
#include <vector>

#include "../../runtime/error.h"
#include "../../runtime/scalar_type.h"
#include "xnnpack_delegate.h"

namespace etn {
namespace xnnpack {
namespace {

static_assert(sizeof(mk::QD8Params) == 2 * sizeof(float), "row parameters are kept in a float Buffer");

bool isQd8(const Value& v) { return v.dtype == DT::xnn_datatype_qdint8 && v.quantized && v.dynamicNonBatchDims > 0; }

// Scales may sit at any byte offset of the payload or named data.
template <class T>
std::vector<T> readArray(const uint8_t* bytes, size_t count) {
  std::vector<T> out(count);
  if (count) std::memcpy(out.data(), bytes, count * sizeof(T));
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------
// Parsing

void XnnpackDelegate::parseDynamicQuantize(Node& n, uint32_t input, uint32_t output) {
  n.op = Op::DynamicQuantize;
  n.in = {input};
  n.out = output;
  const Value& o = values_[output];
  if (o.kind != Value::Kind::Internal) unsupported(n, "to an external qdint8 value");
  // One set of parameters per row of the last dim: what FullyConnected consumes.
  // (Convolutions quantize over 3 dims; no export we run needs that.)
  if (o.dynamicNonBatchDims != 1)
    unsupported(n, "to qdint8 over the last " + std::to_string(o.dynamicNonBatchDims) + " dims");
}

void XnnpackDelegate::parseQD8FullyConnected(Node& n, const fx::XNNFullyConnected* t) {
  n.op = Op::QD8FullyConnected;
  n.in = {valueRef(n, t->input1_id(), "input"), valueRef(n, t->filter_id(), "filter")};
  n.out = valueRef(n, t->output_id(), "output");
  const Value& f = values_[n.in[1]];
  const std::string at = nodeLabel(n);
  if (!isQd8(values_[n.in[0]])) unsupported(n, "with a " + dtypeName(values_[n.in[0]].dtype) + " input");
  const bool qb4 = f.dtype == DT::xnn_datatype_qbint4 && f.perChannelGroup != nullptr;
  const bool qc = (f.dtype == DT::xnn_datatype_qcint4 || f.dtype == DT::xnn_datatype_qcint8) && f.perChannel != nullptr;
  if (!f.quantized || !(qb4 || qc))
    unsupported(n, "with a qdint8 input and a " + dtypeName(f.dtype) + " filter");
  if (f.kind != Value::Kind::Constant) unsupported(n, "with a runtime quantized filter");
  const int32_t channelDim = qb4 ? f.perChannelGroup->channel_dim() : f.perChannel->channel_dim();
  if (channelDim != 0) unsupported(n, "with filter scales along dim " + std::to_string(channelDim));
  if (t->flags() != 0) unsupported(n, "with a quantized filter and flags " + std::to_string(t->flags()));
  if (f.dims.size() != 2) invalid(at + " filter has shape " + shapeStr(f.dims) + ", expected 2 dims");
  n.oc = f.dims[0];
  n.ic = f.dims[1];
  if (n.ic == 0 || n.oc == 0) invalid(at + " has an empty filter");
  if (t->bias_id() != kInvalidId) {
    addBias(n, t->bias_id());
    requireF32(n, static_cast<uint32_t>(n.bias), "bias");
    if (values_[static_cast<size_t>(n.bias)].kind != Value::Kind::Constant)
      unsupported(n, "with a runtime bias and a quantized filter");
    checkBiasSize(n, at, n.oc);
  }
  requireF32(n, n.out, "output");
}

// ---------------------------------------------------------------------------
// Scales and packing (at init)

std::vector<float> XnnpackDelegate::perChannelScales(const Node& n, uint32_t filter) const {
  const fx::PerChannelQuant* q = values_[filter].perChannel;
  const std::string what = nodeLabel(n) + " filter scales";
  std::vector<float> scales;
  if (q->scale_buffer_idx() != 0) {
    scales = readArray<float>(constantBytes(q->scale_buffer_idx(), n.oc * sizeof(float), what), n.oc);
  } else {
    if (q->scale() == nullptr || q->scale()->size() != n.oc)
      invalid(what + ": " + std::to_string(q->scale() ? q->scale()->size() : 0) + " for " + std::to_string(n.oc) +
              " output channels");
    scales.assign(q->scale()->begin(), q->scale()->end());
  }
  return scales;
}

// [oc][ceil(ic / blockSize)] bf16 scales: serialized as bf16 (constant data, usually
// named), or as the older inline f32 list, which the official runtime also rounds to bf16.
std::vector<uint16_t> XnnpackDelegate::blockScalesBf16(const Node& n, uint32_t filter, size_t blockSize) const {
  const fx::PerChannelGroupQuant* q = values_[filter].perChannelGroup;
  const std::string what = nodeLabel(n) + " filter block scales";
  const size_t count = n.oc * ((n.ic + blockSize - 1) / blockSize);
  if (q->scale_buffer_idx() != 0)
    return readArray<uint16_t>(constantBytes(q->scale_buffer_idx(), count * sizeof(uint16_t), what), count);
  if (q->scale() != nullptr && q->scale()->size() > 0) {
    if (q->scale()->size() != count)
      invalid(what + ": " + std::to_string(q->scale()->size()) + ", expected " + std::to_string(count));
    std::vector<uint16_t> scales(count);
    for (size_t i = 0; i < count; ++i) scales[i] = floatToBf16(q->scale()->Get(static_cast<flatbuffers::uoffset_t>(i)));
    return scales;
  }
  // (The deprecated inline scale_bf16 list predates every payload version we read.)
  invalid(what + " are missing");
}

void XnnpackDelegate::packQD8Weights(Node& n) {
  const Value& in = values_[n.in[0]];
  if (in.producer < 0 || nodes_[static_cast<size_t>(in.producer)].op != Op::DynamicQuantize)
    invalid(nodeLabel(n) + " reads a qdint8 value that no Convert produces");
  const uint32_t filter = n.in[1];
  const Value& f = values_[filter];
  mk::WeightSource src;
  src.n = n.oc;
  src.k = n.ic;
  src.data = f.constData;
  std::vector<float> channelScales;
  std::vector<uint16_t> blockScales;
  if (f.dtype == DT::xnn_datatype_qbint4) {
    const int32_t block = f.perChannelGroup->group_size();
    if (block <= 0 || block % 32 != 0)
      unsupported(n, "with a block size of " + std::to_string(block) + " (not a multiple of 32)");
    src.format = mk::WeightFormat::QB4W;
    src.block_size = static_cast<size_t>(block);
    blockScales = blockScalesBf16(n, filter, src.block_size);
    src.scales_bf16 = blockScales.data();
  } else {
    src.format = f.dtype == DT::xnn_datatype_qcint4 ? mk::WeightFormat::QC4W : mk::WeightFormat::QC8W;
    channelScales = perChannelScales(n, filter);
    src.scales_f32 = channelScales.data();
  }
  src.bias = n.bias >= 0 ? values_[static_cast<size_t>(n.bias)].constData : nullptr;
  try {
    n.packed = std::make_unique<mk::PackedWeights>(mk::pack_qd8_weights(src, pool_));
    // The packed copy is all that is read from now on: weights stay in memory once.
    program_.releasePages(f.constData, storedBytes(f));
  } catch (const Error& e) {
    invalid(nodeLabel(n) + ": " + e.what());
  } catch (const std::bad_alloc&) {
    fail(ErrorCode::OutOfMemory, "XnnpackBackend: ", nodeLabel(n), ": out of memory packing the filter", where_);
  }
}

// ---------------------------------------------------------------------------
// Execution

void XnnpackDelegate::runDynamicQuantize(Node& n) {
  const Value& x = values_[n.in[0]];
  Value& o = values_[n.out];
  const size_t k = x.shape.empty() ? 1 : x.shape.back();
  const size_t rows = o.numel / k;
  auto* params = reinterpret_cast<mk::QD8Params*>(o.rowParams.ensure(rows * 2, memoryLimit_));
  mk::quantize_rows_qd8(src(n.in[0]), rows, k, k, reinterpret_cast<int8_t*>(o.data), k, params);
}

void XnnpackDelegate::runQD8FullyConnected(Node& n) {
  const Value& a = values_[n.in[0]];
  const Value& o = values_[n.out];
  mk::QD8Rows rows;
  rows.data = reinterpret_cast<const int8_t*>(a.data);
  rows.stride = n.ic;
  rows.params = reinterpret_cast<const mk::QD8Params*>(a.rowParams.data());
  mk::GemmOptions options;
  options.out_min = n.outMin;
  options.out_max = n.outMax;
  mk::qd8_gemm(*n.packed, o.numel / n.oc, rows, o.data, n.oc, pool_, options);
}

}  // namespace xnnpack
}  // namespace etn
