// Weight-only int8 linears, what `8w` exports delegate:
//
//   FullyConnected(fp32 input, qcint8 filter [OC, IC] with one fp32 scale per output
//                  channel, optional fp32 bias) -> fp32
//
// XNNPACK calls this f32_qc8w: the activations stay f32, each weight is converted
// to f32 and the channel scale applied to the sum. Debian's 2022 XNNPACK has no such
// operator (its qcint8 FullyConnected is the static int8 one, which quantizes the
// input), so it runs on our microkernels (native/microkernels/f32_qc8w_gemm.h): the
// filter is packed once at init, still int8, and its source pages are released, so
// a 1B-parameter model holds about 1 byte per weight.
#include <string>
#include <vector>

#include "../../runtime/error.h"
#include "xnnpack_delegate.h"

namespace etn {
namespace xnnpack {

void XnnpackDelegate::parseF32QC8WFullyConnected(Node& n, const fx::XNNFullyConnected* t) {
  n.op = Op::F32QC8WFullyConnected;
  n.in = {valueRef(n, t->input1_id(), "input"), valueRef(n, t->filter_id(), "filter")};
  n.out = valueRef(n, t->output_id(), "output");
  const Value& f = values_[n.in[1]];
  const std::string at = nodeLabel(n);
  requireF32(n, n.in[0], "input");
  if (!f.quantized || f.perChannel == nullptr)
    unsupported(n, "with an fp32 input and a qcint8 filter without per-channel scales");
  if (f.perChannel->channel_dim() != 0)
    unsupported(n, "with an fp32 input and qcint8 filter scales along dim " +
                       std::to_string(f.perChannel->channel_dim()) + " (only 0, the output channels)");
  if (f.kind != Value::Kind::Constant) unsupported(n, "with an fp32 input and a runtime qcint8 filter");
  n.flags = t->flags();
  if (n.flags != 0)
    unsupported(n, "with an fp32 input, a qcint8 filter and flags " + std::to_string(n.flags) +
                       " (transposed weights)");
  if (f.dims.size() != 2) invalid(at + " filter has shape " + shapeStr(f.dims) + ", expected 2 dims");
  n.oc = f.dims[0];
  n.ic = f.dims[1];
  if (n.ic == 0 || n.oc == 0) invalid(at + " has an empty filter");
  if (t->bias_id() != kInvalidId) {
    addBias(n, t->bias_id());
    const Value& b = values_[static_cast<size_t>(n.bias)];
    if (b.dtype != DT::xnn_datatype_fp32 || b.quantized)
      unsupported(n, "with an fp32 input, a qcint8 filter and a " + dtypeName(b.dtype) + " bias (only fp32)");
    if (b.kind != Value::Kind::Constant) unsupported(n, "with a runtime bias and a qcint8 filter");
    checkBiasSize(n, at, n.oc);
  }
  requireF32(n, n.out, "output");
}

void XnnpackDelegate::packF32QC8WWeights(Node& n) {
  const uint32_t filter = n.in[1];
  Value& f = values_[filter];
  const std::vector<float> scales = perChannelScales(n, filter);
  mk::F32QC8WSource src;
  src.n = n.oc;
  src.k = n.ic;
  src.data = reinterpret_cast<const int8_t*>(f.constData);
  src.scales = scales.data();
  src.bias = n.bias >= 0 ? values_[static_cast<size_t>(n.bias)].constData : nullptr;
  try {
    n.packedQc8w = std::make_unique<mk::F32QC8WWeights>(mk::pack_f32_qc8w_weights(src, pool_));
  } catch (const Error& e) {
    if (e.code() == ErrorCode::OutOfMemory)
      fail(ErrorCode::OutOfMemory, "XnnpackBackend: ", nodeLabel(n), " (fp32 x qcint8): ", e.what(), where_);
    invalid(nodeLabel(n) + " (fp32 x qcint8): " + e.what());
  } catch (const std::bad_alloc&) {
    fail(ErrorCode::OutOfMemory, "XnnpackBackend: ", nodeLabel(n), ": out of memory packing the filter", where_);
  }
  // The packed copy is all that is read from now on: weights stay in memory once.
  program_.releasePages(f.constData, storedBytes(f));
  // A private copy (made when the serialized bytes were misaligned) goes too, unless
  // another node reads the same value.
  bool shared = false;
  for (const Node& other : nodes_)
    if (&other != &n)
      for (uint32_t v : other.in) shared = shared || v == filter;
  if (f.constPadded && !shared) {
    f.constCopy = Buffer();
    f.constData = nullptr;
    f.constPadded = false;
  }
}

void XnnpackDelegate::runF32QC8WFullyConnected(Node& n) {
  const Value& o = values_[n.out];
  mk::GemmOptions options;
  options.out_min = n.outMin;
  options.out_max = n.outMax;
  mk::f32_qc8w_gemm(*n.packedQc8w, o.numel / n.oc, src(n.in[0]), n.ic, o.data, n.oc, pool_, options);
}

}  // namespace xnnpack
}  // namespace etn
