// Values of the graph: parsing (serialized id -> value, external ids), loading
// constants, the dataflow check and the plan of buffer reuse between values.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "../../runtime/error.h"
#include "xnnpack_delegate.h"

namespace etn {
namespace xnnpack {

// ---------------------------------------------------------------------------
// Names and shapes

std::string dtypeName(DT t) {
  const char* n = fx::EnumNameXNNDatatype(t);
  std::string s = (n && *n) ? n : ("datatype " + std::to_string(static_cast<int>(t)));
  if (s.rfind("xnn_datatype_", 0) == 0) s = s.substr(13);
  return s;
}

std::string nodeTypeName(NT t) {
  const char* n = fx::EnumNameXNodeUnion(t);
  std::string s = (n && *n) ? n : ("type " + std::to_string(static_cast<int>(t)));
  if (s.rfind("XNN", 0) == 0) s = s.substr(3);
  return s;
}

std::string shapeStr(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

std::string nodeLabel(const Node& n) { return "node " + std::to_string(n.index) + " " + n.name; }

bool checkedNumel(const Shape& s, uint64_t* out) {
  uint64_t n = 1;
  for (size_t d : s) {
    if (d != 0 && n > kMaxElements / d) return false;
    n *= d;
  }
  *out = n;
  return n <= kMaxElements;
}

uint64_t storedBytes(const Value& v) {
  uint64_t numel = 0;
  checkedNumel(v.dims, &numel);
  if (v.dtype == DT::xnn_datatype_qcint4 || v.dtype == DT::xnn_datatype_qbint4) {
    // Two per byte, each row (output channel) padded to an even count.
    if (v.dims.empty()) return (numel + 1) / 2;
    const uint64_t cols = v.dims.back();
    return cols == 0 ? 0 : numel / cols * ((cols + 1) / 2);
  }
  return numel * v.storedElemSize;
}

bool isFloatValue(const Value& v) {
  return !v.quantized && v.dqDatatype == DT::xnn_datatype_invalid &&
         (v.dtype == DT::xnn_datatype_fp32 || v.dtype == DT::xnn_datatype_fp16 || v.dtype == DT::xnn_datatype_bf16);
}

bool isLowFloat(const Value& v) {
  return isFloatValue(v) && v.dtype != DT::xnn_datatype_fp32;
}

// ---------------------------------------------------------------------------
// Values

void XnnpackDelegate::parseValues() {
  const fx::XNNGraph* g = payload_.graph;
  numExterns_ = g->num_externs();
  const auto* xvalues = g->xvalues();
  const size_t n = xvalues ? xvalues->size() : 0;
  if (numExterns_ > n) invalid("graph declares " + std::to_string(numExterns_) + " externals but has " +
                               std::to_string(n) + " values");
  values_.resize(n);
  externalValue_.assign(numExterns_, kInvalidId);
  for (size_t i = 0; i < n; ++i) {
    const fx::XValue* xv = xvalues->Get(static_cast<flatbuffers::uoffset_t>(i));
    Value& v = values_[i];
    const fx::XNNTensorValue* tv = nullptr;
    if (xv == nullptr) continue;
    switch (xv->xvalue_union_type()) {
      case fx::XValueUnion::XNNTensorValue:
        tv = xv->xvalue_union_as_XNNTensorValue();
        break;
      case fx::XValueUnion::XNNQuantizedTensorValue: {
        const auto* q = xv->xvalue_union_as_XNNQuantizedTensorValue();
        tv = q ? q->tensor_value() : nullptr;
        v.quantized = true;
        if (q && q->quant_params_type() == fx::XNNQuantParams::PerTensorQuant && q->quant_params_as_PerTensorQuant()) {
          const auto* pq = q->quant_params_as_PerTensorQuant();
          v.perTensor = true;
          v.qscale = pq->scale();
          v.qzp = pq->zero_point();
        } else if (q && q->quant_params_type() == fx::XNNQuantParams::PerChannelQuant) {
          v.perChannel = q->quant_params_as_PerChannelQuant();
        } else if (q && q->quant_params_type() == fx::XNNQuantParams::PerChannelGroupQuant) {
          v.perChannelGroup = q->quant_params_as_PerChannelGroupQuant();
        } else if (q && q->quant_params_type() == fx::XNNQuantParams::PerTokenDynamicQuant &&
                   q->quant_params_as_PerTokenDynamicQuant()) {
          v.dynamicNonBatchDims = q->quant_params_as_PerTokenDynamicQuant()->num_nonbatch_dims();
          if (v.dynamicNonBatchDims <= 0) invalid("value " + std::to_string(i) + " is dynamically quantized over " +
                                                  std::to_string(v.dynamicNonBatchDims) + " dims");
        }
        break;
      }
      default:
        continue;  // absent; referencing it is an error
    }
    if (tv == nullptr) invalid("value " + std::to_string(i) + " has no tensor");
    v.dtype = tv->datatype();
    v.dqDatatype = tv->dq_datatype();
    if (v.dtype == DT::xnn_datatype_qint8 || v.dtype == DT::xnn_datatype_qcint8 || v.dtype == DT::xnn_datatype_qdint8 ||
        v.dtype == DT::xnn_datatype_qcint4 || v.dtype == DT::xnn_datatype_qbint4)
      v.elemSize = v.storedElemSize = 1;  // 4-bit values: see storedBytes
    if (v.dtype == DT::xnn_datatype_fp16 || v.dtype == DT::xnn_datatype_bf16) v.storedElemSize = 2;
    const uint32_t nd = tv->num_dims();
    const auto* dims = tv->dims();
    const size_t have = dims ? dims->size() : 0;
    if (nd != have)
      invalid("value " + std::to_string(i) + " has num_dims " + std::to_string(nd) + " but " +
              std::to_string(have) + " dims");
    if (nd > kMaxRank) invalid("value " + std::to_string(i) + " has " + std::to_string(nd) + " dims");
    for (uint32_t d = 0; d < nd; ++d) v.dims.push_back(dims->Get(d));
    uint64_t numel = 0;
    if (!checkedNumel(v.dims, &numel)) invalid("value " + std::to_string(i) + " has an absurd shape");
    v.constantIdx = tv->constant_buffer_idx();
    v.externalId = tv->external_id();
    const uint32_t flags = tv->flags();
    if (v.externalId != kInvalidId) {
      if (v.externalId >= numExterns_)
        invalid("value " + std::to_string(i) + " has external id " + std::to_string(v.externalId) + " of " +
                std::to_string(numExterns_));
      if (externalValue_[v.externalId] != kInvalidId)
        invalid("external id " + std::to_string(v.externalId) + " is used by two values");
      if ((flags & 3u) == 3u) invalid("value " + std::to_string(i) + " is both an external input and output");
      if (v.constantIdx != 0) invalid("external value " + std::to_string(i) + " has constant data");
      externalValue_[v.externalId] = static_cast<uint32_t>(i);
      v.kind = (flags & 2u) ? Value::Kind::Output : Value::Kind::Input;
    } else if (v.constantIdx != 0) {
      v.kind = Value::Kind::Constant;
    } else {
      v.kind = Value::Kind::Internal;
    }
    const uint32_t id = tv->id_out();
    if (!idToValue_.emplace(id, static_cast<uint32_t>(i)).second)
      invalid("two values have id " + std::to_string(id));
  }
  // An external id no value claims is a DelegateCall argument the graph does not
  // read (the partitioner passes symbolic ints, e.g. a sequence length, along with
  // the tensors); bindExternals skips it.
}

// The bytes of constant_data entry `idx` (or, in older payloads, constant_buffer
// entry `idx`): at least `need` of them, from the payload or from named data.
const uint8_t* XnnpackDelegate::constantBytes(uint32_t idx, uint64_t need, const std::string& what) const {
  const fx::XNNGraph* g = payload_.graph;
  const auto* cd = g->constant_data();
  if (cd != nullptr && cd->size() > 0) {
    if (idx >= cd->size())
      invalid(what + " refers to constant_data " + std::to_string(idx) + " of " + std::to_string(cd->size()));
    const fx::ConstantDataOffset* c = cd->Get(idx);
    if (c == nullptr) invalid(what + " has no constant_data entry");
    if (c->named_key() != nullptr) {
      const std::string key = c->named_key()->str();
      NamedBlob blob;
      if (!program_.findNamedData(key, &blob))
        fail(ErrorCode::NotFound, "XnnpackBackend: ", what, " is named data '", key,
             "', which neither the program nor an attached .ptd file has", where_);
      if (blob.bytes.size < need)
        invalid(what + " needs " + std::to_string(need) + " bytes, named data '" + key + "' has " +
                std::to_string(blob.bytes.size));
      return blob.bytes.data;
    }
    const ByteSpan& data = payload_.constantData;
    if (c->offset() > data.size || c->size() > data.size - c->offset())
      invalid(what + " (" + std::to_string(c->size()) + " bytes at " + std::to_string(c->offset()) +
              ") exceeds the payload's constant data (" + std::to_string(data.size) + " bytes)");
    if (c->size() < need)
      invalid(what + " needs " + std::to_string(need) + " bytes, its constant data has " + std::to_string(c->size()));
    return data.data + c->offset();
  }
  // Older payloads keep constants inline in the deprecated constant_buffer.
  const auto* cb = g->constant_buffer();
  if (cb == nullptr || idx >= cb->size())
    invalid(what + " refers to constant buffer " + std::to_string(idx) + ", which does not exist");
  const fx::Buffer* buf = cb->Get(idx);
  const auto* storage = buf ? buf->storage() : nullptr;
  const size_t have = storage ? storage->size() : 0;
  if (have < need)
    invalid(what + " needs " + std::to_string(need) + " bytes, its constant buffer has " + std::to_string(have));
  return storage ? storage->data() : nullptr;
}

void XnnpackDelegate::loadConstant(uint32_t vi) {
  Value& v = values_[vi];
  if (v.constData != nullptr) return;
  const uint64_t need = storedBytes(v);
  const uint8_t* bytes = constantBytes(v.constantIdx, need, "constant value " + std::to_string(vi));
  if (need == 0) {
    v.constData = v.constCopy.ensure(1, memoryLimit_);
    return;
  }
  if (isLowFloat(v)) {
    // Held as f32 (exact): what our loops and the f32 XNNPACK operators read.
    const size_t numel = static_cast<size_t>(need / 2);
    float* p = v.constCopy.ensure(numel, memoryLimit_);
    std::vector<uint16_t> bits(numel);
    std::memcpy(bits.data(), bytes, need);
    if (v.dtype == DT::xnn_datatype_fp16)
      xnnk::fp16ToFloat(bits.data(), p, numel);
    else
      xnnk::bf16ToFloatArray(bits.data(), p, numel);
    v.constData = p;
    v.constPadded = true;
    return;
  }
  if (reinterpret_cast<uintptr_t>(bytes) % alignof(float) == 0) {
    // Weights that XNNPACK packs are read in place; a padded copy is made only if the
    // constant is also a run-time operand and ends too close to a page edge (see src()).
    v.constData = reinterpret_cast<const float*>(bytes);
  } else {
    float* p = v.constCopy.ensure((need + 3) / 4, memoryLimit_);
    std::memcpy(p, bytes, need);
    v.constData = p;
    v.constPadded = true;
  }
}

// ---------------------------------------------------------------------------
// Dataflow and buffer plan

// Every node reads values that exist by then and writes a fresh one.
void XnnpackDelegate::checkDataflow() {
  for (uint32_t i = 0; i < values_.size(); ++i)
    if (values_[i].referenced && values_[i].kind == Value::Kind::Constant) loadConstant(i);
  for (size_t ni = 0; ni < nodes_.size(); ++ni) {
    Node& n = nodes_[ni];
    for (uint32_t vi : n.in) {
      Value& v = values_[vi];
      if ((v.kind == Value::Kind::Internal || v.kind == Value::Kind::Output) && v.producer < 0)
        invalid(nodeLabel(n) + " reads value " + std::to_string(vi) +
                " before any node produces it");
      v.lastUse = static_cast<int>(ni);
    }
    Value& o = values_[n.out];
    if (o.kind == Value::Kind::Input || o.kind == Value::Kind::Constant)
      invalid(nodeLabel(n) + " writes into an input or constant value");
    if (o.producer >= 0)
      invalid(nodeLabel(n) + " writes value " + std::to_string(n.out) +
              ", which node " + std::to_string(o.producer) + " already produced");
    for (uint32_t vi : n.in)
      if (vi == n.out) invalid(nodeLabel(n) + " reads its own output");
    o.producer = static_cast<int>(ni);
    if (o.lastUse < static_cast<int>(ni)) o.lastUse = static_cast<int>(ni);
  }
  for (uint32_t e = 0; e < numExterns_; ++e) {
    if (externalValue_[e] == kInvalidId) continue;
    const Value& v = values_[externalValue_[e]];
    if (v.kind == Value::Kind::Output && v.producer < 0)
      invalid("external output " + std::to_string(e) + " is not produced by any node");
    // Float values; or per-tensor qint8 inputs (a static int8 export passes its quantized
    // constants, e.g. the operand of `x + 1.0`, to the delegate as int8 tensors).
    const bool qs8Input = v.kind == Value::Kind::Input && isQs8(externalValue_[e]);
    if (!isFloatValue(v) && !qs8Input)
      fail(ErrorCode::NotSupported, "XnnpackBackend: external ", v.kind == Value::Kind::Input ? "input" : "output",
           " ", e, " is ", dtypeName(v.dtype), ", which is not supported yet", where_);
  }
}

// Internal values share buffers: a value's buffer is free again after its last reader.
void XnnpackDelegate::planSlots() {
  std::vector<size_t> slotHint;
  std::vector<int> freeSlots;
  for (size_t ni = 0; ni < nodes_.size(); ++ni) {
    Node& n = nodes_[ni];
    Value& o = values_[n.out];
    if (o.kind == Value::Kind::Internal) {
      uint64_t hint = 0;
      checkedNumel(o.dims, &hint);
      int best = -1;
      for (size_t k = 0; k < freeSlots.size(); ++k) {
        const int s = freeSlots[k];
        if (best < 0) {
          best = static_cast<int>(k);
          continue;
        }
        const size_t cur = slotHint[static_cast<size_t>(freeSlots[static_cast<size_t>(best)])];
        const size_t cand = slotHint[static_cast<size_t>(s)];
        // Prefer the smallest slot that fits, else the largest one.
        const bool candFits = cand >= hint, curFits = cur >= hint;
        if ((candFits && (!curFits || cand < cur)) || (!candFits && !curFits && cand > cur)) best = static_cast<int>(k);
      }
      if (best >= 0) {
        o.slot = freeSlots[static_cast<size_t>(best)];
        freeSlots.erase(freeSlots.begin() + best);
        slotHint[static_cast<size_t>(o.slot)] = std::max<size_t>(slotHint[static_cast<size_t>(o.slot)], hint);
      } else {
        o.slot = static_cast<int>(slotHint.size());
        slotHint.push_back(hint);
      }
    }
    // Release after allocating, so an output never shares a buffer with an input of its node.
    std::vector<uint32_t> done = n.in;
    done.push_back(n.out);
    std::sort(done.begin(), done.end());
    done.erase(std::unique(done.begin(), done.end()), done.end());
    for (uint32_t vi : done) {
      const Value& v = values_[vi];
      if (v.kind == Value::Kind::Internal && v.lastUse == static_cast<int>(ni) && v.slot >= 0)
        freeSlots.push_back(v.slot);
    }
  }
  if (slots_->size() < slotHint.size()) slots_->resize(slotHint.size());
}

}  // namespace xnnpack
}  // namespace etn
