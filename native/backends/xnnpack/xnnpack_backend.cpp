// XnnpackBackend: runs the f32 graphs of XNNPACK delegate payloads with the
// OPERATOR API of Debian's XNNPACK (operators are created, and weights packed,
// once at init; each call sets them up with that call's actual shapes, so
// dynamic-shape inputs work), plus our own loops for what that XNNPACK lacks.
// See README.md in this directory for the node list.
#include <pthreadpool.h>
#include <unistd.h>
#include <xnnpack.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include "../../runtime/backend.h"
#include "../../runtime/error.h"
#include "../../runtime/evalue.h"
#include "../../runtime/program.h"
#include "../../runtime/tensor.h"
#include "xnnpack_kernels.h"
#include "xnnpack_payload.h"

namespace etn {
namespace {

namespace fx = fb_xnnpack;
using xnnk::Shape;
using DT = fx::XNNDatatype;
using NT = fx::XNodeUnion;

constexpr uint32_t kInvalidId = std::numeric_limits<uint32_t>::max();
constexpr size_t kMaxRank = 16;
constexpr size_t kXnnMaxDims = XNN_MAX_TENSOR_DIMS;
constexpr size_t kPadBytes = 64;  // slack after our buffers (XNNPACK may read XNN_EXTRA_BYTES past the end)
constexpr uint64_t kMaxElements = uint64_t(1) << 36;  // 256 GiB of floats: beyond that a shape is absurd
constexpr float kInf = std::numeric_limits<float>::infinity();

// ---------------------------------------------------------------------------
// Small helpers

struct OpDeleter {
  void operator()(xnn_operator_t op) const {
    if (op) xnn_delete_operator(op);
  }
};
using XnnOp = std::unique_ptr<xnn_operator, OpDeleter>;

// A 64-byte aligned float buffer with slack after the end; grows, never shrinks.
class Buffer {
 public:
  Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& o) noexcept : p_(o.p_), cap_(o.cap_) {
    o.p_ = nullptr;
    o.cap_ = 0;
  }
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      std::free(p_);
      p_ = o.p_;
      cap_ = o.cap_;
      o.p_ = nullptr;
      o.cap_ = 0;
    }
    return *this;
  }
  ~Buffer() { std::free(p_); }
  // limitBytes: the program's memoryLimit (0: this machine's physical memory).
  float* ensure(size_t floats, uint64_t limitBytes) {
    if (floats > cap_ || p_ == nullptr) {
      const size_t bytes = ((floats * sizeof(float) + kPadBytes + 63) / 64) * 64;
      const size_t limit = limitBytes ? static_cast<size_t>(limitBytes / sizeof(float)) : maxFloats();
      if (floats > limit)
        fail(ErrorCode::OutOfMemory, "XnnpackBackend: a tensor of ", floats * sizeof(float),
             " bytes is over the memory limit of ", limit * sizeof(float), " bytes");
      void* q = std::aligned_alloc(64, bytes);
      if (q == nullptr)
        fail(ErrorCode::OutOfMemory, "XnnpackBackend: cannot allocate ", floats * sizeof(float), " bytes");
      // Only the slack is cleared: the data part is always written before it is read.
      std::memset(static_cast<uint8_t*>(q) + floats * sizeof(float), 0, bytes - floats * sizeof(float));
      std::free(p_);
      p_ = static_cast<float*>(q);
      cap_ = floats;
    }
    return p_;
  }
  float* data() const { return p_; }

 private:
  static size_t maxFloats() {
    static const size_t limit = [] {
      const long pages = sysconf(_SC_PHYS_PAGES), pageSize = sysconf(_SC_PAGESIZE);
      if (pages <= 0 || pageSize <= 0) return static_cast<size_t>(kMaxElements);
      return static_cast<size_t>(static_cast<uint64_t>(pages) * static_cast<uint64_t>(pageSize) / sizeof(float));
    }();
    return limit;
  }
  float* p_ = nullptr;
  size_t cap_ = 0;
};

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

// numel with overflow and sanity checks; false when absurd.
bool checkedNumel(const Shape& s, uint64_t* out) {
  uint64_t n = 1;
  for (size_t d : s) {
    if (d != 0 && n > kMaxElements / d) return false;
    n *= d;
  }
  *out = n;
  return n <= kMaxElements;
}

// True when XNNPACK may read XNN_EXTRA_BYTES past [p, p+bytes) without leaving
// the page of the last byte (so the read cannot fault), and p is float-aligned.
bool safeForXnn(const void* p, size_t bytes) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  if (a % alignof(float) != 0) return false;
  if (bytes == 0) return true;
  const uintptr_t last = a + bytes - 1;
  const uintptr_t end = last + XNN_EXTRA_BYTES;
  return (last >> 12) == (end >> 12);
}

// ---------------------------------------------------------------------------
// Graph model

enum class Op : uint8_t {
  Binary,         // Add/Sub/Mul/Div/Min/Max (XNNPACK nd ops, own loop above 6 dims)
  PRelu,          // own loop
  XnnUnary,       // Clamp, Sigmoid, Hardswish, LeakyReLU, ELU, Abs, Negate, Square, Sqrt, Floor, Ceiling
  OwnUnary,       // Tanh, Exp, Log, Sin, Cos, Gelu, ReciprocalSquareRoot, Copy
  Softmax,
  FullyConnected,
  Conv2d,         // also depthwise
  MaxPool2d,
  AvgPool2d,
  GlobalAvgPool2d,
  ResizeBilinear2d,
  Transpose,
  Reshape,
  Slice,
  Concat,
  Pad,
  BatchMatmul,
  Quantize,        // Convert fp32 -> qint8 (per tensor)
  Dequantize,      // Convert qint8 (per tensor) -> fp32
  QFullyConnected, // qint8 input/filter/output, qint32 bias (static per-tensor quantization)
};

struct Value {
  enum class Kind : uint8_t { Absent, Internal, Constant, Input, Output };
  Kind kind = Kind::Absent;
  DT dtype = DT::xnn_datatype_invalid;
  bool quantized = false;
  bool perTensor = false;  // quantized with PerTensorQuant
  float qscale = 1.0f;
  int32_t qzp = 0;
  size_t elemSize = 4;     // bytes per element: 1 for qint8
  DT dqDatatype = DT::xnn_datatype_invalid;
  Shape dims;  // serialized
  uint32_t externalId = kInvalidId;
  uint32_t constantIdx = 0;
  const float* constData = nullptr;
  Buffer constCopy;  // when the serialized bytes are misaligned (at load) or end at a page edge (on first use)
  bool constPadded = false;
  int producer = -1;
  int lastUse = -1;
  int slot = -1;
  bool referenced = false;

  // Per call
  Shape shape;
  size_t numel = 0;
  float* data = nullptr;
  Tensor* tensor = nullptr;  // external inputs/outputs
  bool copyBack = false;     // output computed in `scratch`, copied into the tensor afterwards
  Buffer scratch;            // padded copy of an external tensor for XNNPACK reads / aligned writes
  Buffer owned;              // memory for an output tensor that has none of its own
};

struct Node {
  Op op = Op::Binary;
  NT type = NT::NONE;
  uint32_t index = 0;
  std::string name;  // "Add", "Conv2d", ...
  std::vector<uint32_t> in;  // value indices
  uint32_t out = 0;
  float outMin = -kInf, outMax = kInf;
  uint32_t flags = 0;

  xnnk::Binary binary = xnnk::Binary::Add;
  xnnk::Unary unary = xnnk::Unary::Copy;
  float alpha = 0;          // LeakyReLU slope, ELU alpha, pad value
  std::vector<size_t> a;    // perm / new_shape / offsets / pre_paddings
  std::vector<size_t> b;    // slice sizes / post_paddings
  uint32_t axis = 0;
  // Conv / pooling
  uint32_t pt = 0, pr = 0, pb = 0, pl = 0, kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  size_t groups = 1, gic = 0, goc = 0;
  bool depthwise = false;
  // FC / BMM
  size_t ic = 0, oc = 0;
  bool transposedWeights = false;
  int bias = -1;  // value index or -1
  bool keepDims = true;  // global average pooling: [N,1,1,C] or [N,C]
  size_t newH = 0, newW = 0;

  XnnOp xop;
  size_t xopChannels = 0;  // channels the lazily created operator was made for
  bool xopTried = false;   // ensureChannelsOp ran for xopChannels (xop null: XNNPACK refused, own loop)
};

// XNN_FLAG_KEEP_DIMS in newer XNNPACK; Debian's 2022 header does not define it.
constexpr uint32_t kFlagKeepDims = 0x40;

class XnnpackDelegate final : public DelegateHandle {
 public:
  XnnpackDelegate(const DelegateInitContext& ctx, pthreadpool_t pool);
  void execute(EValue** args, size_t count) override;

 private:
  // Init
  [[noreturn]] void invalid(const std::string& msg) const;
  [[noreturn]] void unsupported(const Node& n, const std::string& what) const;
  void parseValues();
  uint32_t valueRef(const Node& n, uint32_t id, const char* role);
  void requireF32(const Node& n, uint32_t v, const char* role) const;
  bool isQs8(uint32_t v) const;
  void requireQuant(const Node& n, uint32_t v, DT dtype, const char* role) const;
  void parseNodes();
  void parseNode(const fx::XNode* xn, uint32_t index);
  void checkDataflow();
  void loadConstant(uint32_t v);
  void planSlots();
  void createOperators();
  void createOperator(Node& n);
  bool ensureChannelsOp(Node& n, size_t channels);
  xnnk::Conv2dParams convParams(const Node& n) const;

  // Execute
  void bindExternals(EValue** args, size_t count);
  Shape inferShape(const Node& n);
  void prepareOutput(Node& n, const Shape& shape);
  const float* src(uint32_t v);
  void runNode(Node& n);
  void check(const Node& n, xnn_status s, const char* stage) const;

  std::string where_;  // " (method 'forward', delegate 0)"
  const Program& program_;
  XnnpackPayload payload_;
  pthreadpool_t pool_;
  uint64_t memoryLimit_;
  bool reference_ = false;  // ETN_XNNPACK_REFERENCE=1: our own loops only (cross-checks XNNPACK)
  std::vector<Value> values_;
  std::unordered_map<uint32_t, uint32_t> idToValue_;
  std::vector<Node> nodes_;
  uint32_t numExterns_ = 0;
  std::vector<uint32_t> externalValue_;  // external id -> value index
  std::vector<Buffer> slots_;
};

XnnpackDelegate::XnnpackDelegate(const DelegateInitContext& ctx, pthreadpool_t pool)
    : program_(ctx.program), pool_(pool), memoryLimit_(ctx.memoryLimit) {
  const char* ref = std::getenv("ETN_XNNPACK_REFERENCE");
  reference_ = ref != nullptr && ref[0] == '1';
  where_ = " (method '" + ctx.methodName + "', delegate " + std::to_string(ctx.delegateIndex) + ")";
  payload_ = parseXnnpackPayload(ctx.payload);
  parseValues();
  parseNodes();
  checkDataflow();
  planSlots();
  createOperators();
}

void XnnpackDelegate::invalid(const std::string& msg) const {
  fail(ErrorCode::InvalidProgram, "XnnpackBackend: ", msg, where_);
}

void XnnpackDelegate::unsupported(const Node& n, const std::string& what) const {
  fail(ErrorCode::NotSupported, "XnnpackBackend: node ", n.index, " ", n.name, " ", what,
       " is not supported yet", where_);
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
        }
        break;
      }
      default:
        continue;  // absent; referencing it is an error
    }
    if (tv == nullptr) invalid("value " + std::to_string(i) + " has no tensor");
    v.dtype = tv->datatype();
    v.dqDatatype = tv->dq_datatype();
    if (v.dtype == DT::xnn_datatype_qint8) v.elemSize = 1;
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
  for (uint32_t e = 0; e < numExterns_; ++e)
    if (externalValue_[e] == kInvalidId) invalid("no value has external id " + std::to_string(e));
}

void XnnpackDelegate::loadConstant(uint32_t vi) {
  Value& v = values_[vi];
  if (v.constData != nullptr) return;
  const fx::XNNGraph* g = payload_.graph;
  uint64_t numel = 0;
  checkedNumel(v.dims, &numel);
  const uint64_t need = numel * v.elemSize;
  const uint8_t* bytes = nullptr;
  const auto* cd = g->constant_data();
  const std::string what = "constant value " + std::to_string(vi);
  if (cd != nullptr && cd->size() > 0) {
    if (v.constantIdx >= cd->size())
      invalid(what + " refers to constant_data " + std::to_string(v.constantIdx) + " of " +
              std::to_string(cd->size()));
    const fx::ConstantDataOffset* c = cd->Get(v.constantIdx);
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
      bytes = blob.bytes.data;
    } else {
      const ByteSpan& data = payload_.constantData;
      if (c->offset() > data.size || c->size() > data.size - c->offset())
        invalid(what + " (" + std::to_string(c->size()) + " bytes at " + std::to_string(c->offset()) +
                ") exceeds the payload's constant data (" + std::to_string(data.size) + " bytes)");
      if (c->size() < need)
        invalid(what + " needs " + std::to_string(need) + " bytes, its constant data has " +
                std::to_string(c->size()));
      bytes = data.data + c->offset();
    }
  } else {
    // Older payloads keep constants inline in the deprecated constant_buffer.
    const auto* cb = g->constant_buffer();
    if (cb == nullptr || v.constantIdx >= cb->size())
      invalid(what + " refers to constant buffer " + std::to_string(v.constantIdx) + ", which does not exist");
    const fx::Buffer* buf = cb->Get(v.constantIdx);
    const auto* storage = buf ? buf->storage() : nullptr;
    const size_t have = storage ? storage->size() : 0;
    if (have < need)
      invalid(what + " needs " + std::to_string(need) + " bytes, its constant buffer has " + std::to_string(have));
    bytes = storage ? storage->data() : nullptr;
  }
  if (need == 0) {
    v.constData = v.constCopy.ensure(1, memoryLimit_);
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
// Nodes

uint32_t XnnpackDelegate::valueRef(const Node& n, uint32_t id, const char* role) {
  auto it = idToValue_.find(id);
  if (it == idToValue_.end() || values_[it->second].kind == Value::Kind::Absent)
    invalid("node " + std::to_string(n.index) + " " + n.name + " " + role + " refers to value id " +
            std::to_string(id) + ", which does not exist");
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
    invalid("node " + std::to_string(n.index) + " " + n.name + " " + role + " has quantization scale " +
            std::to_string(v.qscale));
  if (dtype == DT::xnn_datatype_qint8 && (v.qzp < -128 || v.qzp > 127))
    invalid("node " + std::to_string(n.index) + " " + n.name + " " + role + " has zero point " +
            std::to_string(v.qzp));
}

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
      invalid("node " + std::to_string(index) + " " + n.name + " has an empty output range");
  }
  const void* table = xn->xnode_union();
  if (table == nullptr && n.type != NT::NONE) invalid("node " + std::to_string(index) + " " + n.name + " has no body");

  auto binary = [&](const fx::_XNNNode2x1* t, xnnk::Binary op, bool clamps) {
    n.op = Op::Binary;
    n.binary = op;
    n.in = {valueRef(n, t->input1_id(), "input1"), valueRef(n, t->input2_id(), "input2")};
    n.out = valueRef(n, t->output_id(), "output");
    n.flags = t->flags();
    if (!clamps) {
      n.outMin = -kInf;
      n.outMax = kInf;
    }
    requireF32(n, n.in[0], "input1");
    requireF32(n, n.in[1], "input2");
    requireF32(n, n.out, "output");
  };
  auto unary1 = [&](const fx::_XNNNode1x1* t) {
    n.in = {valueRef(n, t->input_id(), "input")};
    n.out = valueRef(n, t->output_id(), "output");
    n.flags = t->flags();
    requireF32(n, n.in[0], "input");
    requireF32(n, n.out, "output");
  };
  auto xnnUnary = [&](const fx::_XNNNode1x1* t, xnnk::Unary u) {
    unary1(t);
    n.op = Op::XnnUnary;
    n.unary = u;
  };
  auto ownUnary = [&](const fx::_XNNNode1x1* t, xnnk::Unary u) {
    unary1(t);
    n.op = Op::OwnUnary;
    n.unary = u;
  };
  auto conv = [&](const fx::_XNNNodeConv* t, bool depthwise) {
    n.op = Op::Conv2d;
    n.depthwise = depthwise;
    n.in = {valueRef(n, t->input1_id(), "input"), valueRef(n, t->filter_id(), "filter")};
    n.out = valueRef(n, t->output_id(), "output");
    requireF32(n, n.in[0], "input");
    requireF32(n, n.in[1], "filter");
    requireF32(n, n.out, "output");
    if (t->bias_id() != kInvalidId) {
      n.bias = static_cast<int>(valueRef(n, t->bias_id(), "bias"));
      requireF32(n, static_cast<uint32_t>(n.bias), "bias");
      n.in.push_back(static_cast<uint32_t>(n.bias));
    }
    n.flags = t->flags();
    if (n.flags != 0) unsupported(n, "with flags " + std::to_string(n.flags));
    n.pt = t->padding_top(); n.pr = t->padding_right(); n.pb = t->padding_bottom(); n.pl = t->padding_left();
    n.kh = t->kernel_height(); n.kw = t->kernel_width();
    n.sh = t->subsampling_height(); n.sw = t->subsampling_width();
    n.dh = t->dilation_height(); n.dw = t->dilation_width();
    const std::string at = "node " + std::to_string(index) + " " + n.name;
    if (n.kh == 0 || n.kw == 0 || n.sh == 0 || n.sw == 0 || n.dh == 0 || n.dw == 0)
      invalid(at + " has a zero kernel size, stride or dilation");
    if (n.kh > 65536 || n.kw > 65536 || n.dh > 65536 || n.dw > 65536 || n.pt > (1u << 24) || n.pb > (1u << 24) ||
        n.pl > (1u << 24) || n.pr > (1u << 24))
      invalid(at + " has absurd kernel/padding sizes");
    if (t->groups() == 0 || t->group_input_channels() == 0 || t->group_output_channels() == 0)
      invalid(at + " has zero channels or groups");
    const Value& f = values_[n.in[1]];
    if (f.kind != Value::Kind::Constant) unsupported(n, "with a runtime (non-constant) filter");
    if (n.bias >= 0 && values_[static_cast<size_t>(n.bias)].kind != Value::Kind::Constant)
      unsupported(n, "with a runtime (non-constant) bias");
    if (depthwise) {
      if (t->group_output_channels() % t->group_input_channels() != 0)
        invalid(at + " output channels are not a multiple of its input channels");
      n.groups = t->groups();  // = input channels
      n.gic = 1;
      n.goc = t->group_output_channels() / t->group_input_channels();  // depth multiplier
      const Shape want = {1, n.kh, n.kw, n.groups * n.goc};
      if (f.dims != want)
        invalid(at + " filter has shape " + shapeStr(f.dims) + ", expected " + shapeStr(want));
    } else {
      n.groups = t->groups();
      n.gic = t->group_input_channels();
      n.goc = t->group_output_channels();
      const Shape want = {n.groups * n.goc, n.kh, n.kw, n.gic};
      if (f.dims != want)
        invalid(at + " filter has shape " + shapeStr(f.dims) + ", expected " + shapeStr(want));
    }
    uint64_t total = 0;
    if (!checkedNumel({n.groups, n.goc, n.gic, n.kh, n.kw}, &total)) invalid(at + " is absurdly large");
    if (n.bias >= 0) {
      uint64_t bn = 0;
      checkedNumel(values_[static_cast<size_t>(n.bias)].dims, &bn);
      if (bn != n.groups * n.goc) invalid(at + " bias has " + std::to_string(bn) + " elements, expected " +
                                          std::to_string(n.groups * n.goc));
    }
  };
  auto pool2d = [&](const fx::_XNNPooling2D* t, Op op) {
    n.op = op;
    n.in = {valueRef(n, t->input_id(), "input")};
    n.out = valueRef(n, t->output_id(), "output");
    requireF32(n, n.in[0], "input");
    requireF32(n, n.out, "output");
    n.flags = t->flags();
    if ((n.flags & ~kFlagKeepDims) != 0) unsupported(n, "with flags " + std::to_string(n.flags));
    n.pt = t->padding_top(); n.pr = t->padding_right(); n.pb = t->padding_bottom(); n.pl = t->padding_left();
    n.kh = t->pooling_height(); n.kw = t->pooling_width();
    n.sh = t->stride_height(); n.sw = t->stride_width();
    n.dh = op == Op::AvgPool2d ? 1 : t->dilation_height();
    n.dw = op == Op::AvgPool2d ? 1 : t->dilation_width();
    if (op == Op::MaxPool2d && n.dh == 0) n.dh = 1;
    if (op == Op::MaxPool2d && n.dw == 0) n.dw = 1;
    const std::string at = "node " + std::to_string(index) + " " + n.name;
    if (n.kh == 0 || n.kw == 0 || n.sh == 0 || n.sw == 0)
      invalid(at + " has a zero pooling size or stride");
    if (n.kh > 65536 || n.kw > 65536 || n.dh > 65536 || n.dw > 65536 || n.pt > (1u << 24) || n.pb > (1u << 24) ||
        n.pl > (1u << 24) || n.pr > (1u << 24))
      invalid(at + " has absurd pooling/padding sizes");
  };
  auto cat = [&](const fx::_XNNCat* t, int count) {
    n.op = Op::Concat;
    const uint32_t ids[5] = {t->input1_id(), t->input2_id(), t->input3_id(), t->input4_id(), t->input5_id()};
    static const char* roles[5] = {"input1", "input2", "input3", "input4", "input5"};
    for (int k = 0; k < count; ++k) {
      n.in.push_back(valueRef(n, ids[k], roles[k]));
      requireF32(n, n.in.back(), roles[k]);
    }
    n.out = valueRef(n, t->output_id(), "output");
    requireF32(n, n.out, "output");
    n.axis = t->axis();
    n.flags = t->flags();
  };
  auto dimsVector = [&](const flatbuffers::Vector<uint32_t>* v, const char* what) {
    std::vector<size_t> r;
    if (v == nullptr) invalid("node " + std::to_string(index) + " " + n.name + " has no " + what);
    if (v->size() > kMaxRank) invalid("node " + std::to_string(index) + " " + n.name + " has too many " + what);
    for (uint32_t x : *v) r.push_back(x);
    return r;
  };

  switch (n.type) {
    case NT::XNNAdd: binary(xn->xnode_union_as_XNNAdd(), xnnk::Binary::Add, true); break;
    case NT::XNNSubtract: binary(xn->xnode_union_as_XNNSubtract(), xnnk::Binary::Sub, true); break;
    case NT::XNNMultiply: binary(xn->xnode_union_as_XNNMultiply(), xnnk::Binary::Mul, true); break;
    case NT::XNNDiv: binary(xn->xnode_union_as_XNNDiv(), xnnk::Binary::Div, true); break;
    case NT::XNNMinimum: binary(xn->xnode_union_as_XNNMinimum(), xnnk::Binary::Min, false); break;
    case NT::XNNMaximum: binary(xn->xnode_union_as_XNNMaximum(), xnnk::Binary::Max, false); break;
    case NT::XNNPReLU:
      binary(xn->xnode_union_as_XNNPReLU(), xnnk::Binary::PRelu, false);
      n.op = Op::PRelu;
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
      n.op = Op::XnnUnary;
      n.unary = xnnk::Unary::LeakyRelu;
      n.alpha = t->negative_slope();
      n.in = {valueRef(n, t->input_id(), "input")};
      n.out = valueRef(n, t->output_id(), "output");
      requireF32(n, n.in[0], "input");
      requireF32(n, n.out, "output");
      if (!std::isfinite(n.alpha)) invalid("node " + std::to_string(index) + " LeakyReLU slope is not finite");
      break;
    }
    case NT::XNNELU: {
      const auto* t = xn->xnode_union_as_XNNELU();
      n.op = Op::XnnUnary;
      n.unary = xnnk::Unary::Elu;
      n.alpha = t->alpha();
      n.in = {valueRef(n, t->input_id(), "input")};
      n.out = valueRef(n, t->output_id(), "output");
      requireF32(n, n.in[0], "input");
      requireF32(n, n.out, "output");
      if (!std::isfinite(n.alpha)) invalid("node " + std::to_string(index) + " ELU alpha is not finite");
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
    case NT::XNNConvert: {
      const auto* t = xn->xnode_union_as_XNNConvert();
      const uint32_t i = valueRef(n, t->input_id(), "input");
      const uint32_t o = valueRef(n, t->output_id(), "output");
      const Value& vo = values_[o];
      const Value& vi = values_[i];
      const bool inF32 = vi.dtype == DT::xnn_datatype_fp32 && !vi.quantized;
      const bool outF32 = vo.dtype == DT::xnn_datatype_fp32 && !vo.quantized;
      if (inF32 && isQs8(o) && vi.dqDatatype == DT::xnn_datatype_invalid) {
        n.in = {i};
        n.out = o;
        n.op = Op::Quantize;
        requireQuant(n, o, DT::xnn_datatype_qint8, "output");
        break;
      }
      if (isQs8(i) && outF32) {
        n.in = {i};
        n.out = o;
        n.op = Op::Dequantize;
        requireQuant(n, i, DT::xnn_datatype_qint8, "input");
        break;
      }
      if (!outF32) unsupported(n, "to " + dtypeName(vo.dtype));
      if (!inF32) unsupported(n, "from " + dtypeName(vi.dtype));
      ownUnary(t, xnnk::Unary::Copy);  // fp32 -> fp32
      break;
    }
    case NT::XNNSoftmax:
      unary1(xn->xnode_union_as_XNNSoftmax());
      n.op = Op::Softmax;
      break;
    case NT::XNNFullyConnected: {
      const auto* t = xn->xnode_union_as_XNNFullyConnected();
      n.op = Op::FullyConnected;
      n.in = {valueRef(n, t->input1_id(), "input"), valueRef(n, t->filter_id(), "filter")};
      n.out = valueRef(n, t->output_id(), "output");
      if (values_[n.in[1]].dtype == DT::xnn_datatype_qint8 && values_[n.in[1]].quantized) {
        // Static int8: qint8 input, filter and output, per tensor; qint32 bias.
        n.op = Op::QFullyConnected;
        requireQuant(n, n.in[1], DT::xnn_datatype_qint8, "filter");
        requireQuant(n, n.in[0], DT::xnn_datatype_qint8, "input");
        requireQuant(n, n.out, DT::xnn_datatype_qint8, "output");
        if (values_[n.in[1]].qzp != 0) unsupported(n, "with an asymmetric (zero point != 0) filter");
        if (values_[n.in[1]].kind != Value::Kind::Constant) unsupported(n, "with a runtime int8 filter");
        if (t->bias_id() != kInvalidId) {
          n.bias = static_cast<int>(valueRef(n, t->bias_id(), "bias"));
          requireQuant(n, static_cast<uint32_t>(n.bias), DT::xnn_datatype_qint32, "bias");
          if (values_[static_cast<size_t>(n.bias)].kind != Value::Kind::Constant)
            unsupported(n, "with a runtime int32 bias");
          n.in.push_back(static_cast<uint32_t>(n.bias));
        }
      } else {
        requireF32(n, n.in[1], "filter");
        requireF32(n, n.in[0], "input");
        if (t->bias_id() != kInvalidId) {
          n.bias = static_cast<int>(valueRef(n, t->bias_id(), "bias"));
          requireF32(n, static_cast<uint32_t>(n.bias), "bias");
          n.in.push_back(static_cast<uint32_t>(n.bias));
        }
        requireF32(n, n.out, "output");
      }
      n.flags = t->flags();
      if ((n.flags & ~uint32_t(XNN_FLAG_TRANSPOSE_WEIGHTS)) != 0)
        unsupported(n, "with flags " + std::to_string(n.flags));
      if (n.op == Op::QFullyConnected && n.flags != 0) unsupported(n, "int8 with transposed weights");
      n.transposedWeights = (n.flags & XNN_FLAG_TRANSPOSE_WEIGHTS) != 0;
      const Value& f = values_[n.in[1]];
      const std::string at = "node " + std::to_string(index) + " FullyConnected";
      if (f.dims.size() != 2) invalid(at + " filter has shape " + shapeStr(f.dims) + ", expected 2 dims");
      n.oc = n.transposedWeights ? f.dims[1] : f.dims[0];
      n.ic = n.transposedWeights ? f.dims[0] : f.dims[1];
      if (n.ic == 0 || n.oc == 0) invalid(at + " has an empty filter");
      if (n.bias >= 0) {
        uint64_t bn = 0;
        checkedNumel(values_[static_cast<size_t>(n.bias)].dims, &bn);
        if (bn != n.oc)
          invalid(at + " bias has " + std::to_string(bn) + " elements, expected " + std::to_string(n.oc));
      }
      break;
    }
    case NT::XNNConv2d: conv(xn->xnode_union_as_XNNConv2d(), false); break;
    case NT::XNNDepthwiseConv2d: conv(xn->xnode_union_as_XNNDepthwiseConv2d(), true); break;
    case NT::XNNMaxPooling2d: pool2d(xn->xnode_union_as_XNNMaxPooling2d(), Op::MaxPool2d); break;
    case NT::XNNAvgPooling2d: pool2d(xn->xnode_union_as_XNNAvgPooling2d(), Op::AvgPool2d); break;
    case NT::XNNGlobalAvgPooling2d: {
      unary1(xn->xnode_union_as_XNNGlobalAvgPooling2d());
      n.op = Op::GlobalAvgPool2d;
      // Newer exports set XNN_FLAG_KEEP_DIMS; older ones relied on a 4-D output value.
      n.keepDims = (n.flags & kFlagKeepDims) != 0 || values_[n.out].dims.size() == 4;
      break;
    }
    case NT::XNNStaticResizeBilinear2D: {
      const auto* t = xn->xnode_union_as_XNNStaticResizeBilinear2D();
      n.op = Op::ResizeBilinear2d;
      n.in = {valueRef(n, t->input_id(), "input")};
      n.out = valueRef(n, t->output_id(), "output");
      requireF32(n, n.in[0], "input");
      requireF32(n, n.out, "output");
      n.flags = t->flags();
      if ((n.flags & ~uint32_t(XNN_FLAG_ALIGN_CORNERS | XNN_FLAG_TENSORFLOW_LEGACY_MODE)) != 0)
        unsupported(n, "with flags " + std::to_string(n.flags));
      n.newH = t->new_height();
      n.newW = t->new_width();
      if (n.newH == 0 || n.newW == 0 || n.newH > (1u << 24) || n.newW > (1u << 24))
        invalid("node " + std::to_string(index) + " ResizeBilinear2D has an absurd output size");
      break;
    }
    case NT::XNNStaticTranspose: {
      const auto* t = xn->xnode_union_as_XNNStaticTranspose();
      n.op = Op::Transpose;
      n.in = {valueRef(n, t->input_id(), "input")};
      n.out = valueRef(n, t->output_id(), "output");
      requireF32(n, n.in[0], "input");
      requireF32(n, n.out, "output");
      n.a = dimsVector(t->perm(), "perm");
      if (t->num_dims() != n.a.size()) invalid("node " + std::to_string(index) + " StaticTranspose num_dims differs from perm");
      std::vector<bool> seen(n.a.size(), false);
      for (size_t p : n.a) {
        if (p >= n.a.size() || seen[p]) invalid("node " + std::to_string(index) + " StaticTranspose perm is not a permutation");
        seen[p] = true;
      }
      break;
    }
    case NT::XNNStaticReshape: {
      const auto* t = xn->xnode_union_as_XNNStaticReshape();
      n.op = Op::Reshape;
      n.in = {valueRef(n, t->input_id(), "input")};
      n.out = valueRef(n, t->output_id(), "output");
      requireF32(n, n.in[0], "input");
      requireF32(n, n.out, "output");
      n.a = dimsVector(t->new_shape(), "new_shape");
      if (t->num_dims() != n.a.size()) invalid("node " + std::to_string(index) + " StaticReshape num_dims differs from new_shape");
      if (std::count(n.a.begin(), n.a.end(), size_t(0)) > 1)
        unsupported(n, "with more than one inferred dimension");
      uint64_t tmp = 0;
      Shape known;
      for (size_t d : n.a) if (d) known.push_back(d);
      if (!checkedNumel(known, &tmp)) invalid("node " + std::to_string(index) + " StaticReshape has an absurd shape");
      break;
    }
    case NT::XNNStaticSlice: {
      const auto* t = xn->xnode_union_as_XNNStaticSlice();
      n.op = Op::Slice;
      n.in = {valueRef(n, t->input_id(), "input")};
      n.out = valueRef(n, t->output_id(), "output");
      requireF32(n, n.in[0], "input");
      requireF32(n, n.out, "output");
      n.a = dimsVector(t->offsets(), "offsets");
      n.b = dimsVector(t->sizes(), "sizes");
      if (t->num_dims() != n.a.size() || n.a.size() != n.b.size())
        invalid("node " + std::to_string(index) + " StaticSlice num_dims, offsets and sizes disagree");
      break;
    }
    case NT::XNNStaticConstantPad: {
      const auto* t = xn->xnode_union_as_XNNStaticConstantPad();
      n.op = Op::Pad;
      n.in = {valueRef(n, t->input_id(), "input")};
      n.out = valueRef(n, t->output_id(), "output");
      requireF32(n, n.in[0], "input");
      requireF32(n, n.out, "output");
      n.a = dimsVector(t->pre_paddings(), "pre_paddings");
      n.b = dimsVector(t->post_paddings(), "post_paddings");
      n.alpha = t->padding_value();
      if (n.a.size() != n.b.size())
        invalid("node " + std::to_string(index) + " StaticConstantPad pre and post paddings differ in length");
      for (size_t k = 0; k < n.a.size(); ++k)
        if (n.a[k] > (1u << 24) || n.b[k] > (1u << 24))
          invalid("node " + std::to_string(index) + " StaticConstantPad has absurd paddings");
      break;
    }
    case NT::XNNConcatenate2: cat(xn->xnode_union_as_XNNConcatenate2(), 2); break;
    case NT::XNNConcatenate3: cat(xn->xnode_union_as_XNNConcatenate3(), 3); break;
    case NT::XNNConcatenate4: cat(xn->xnode_union_as_XNNConcatenate4(), 4); break;
    case NT::XNNConcatenate5: cat(xn->xnode_union_as_XNNConcatenate5(), 5); break;
    case NT::XNNBatchMatrixMultiply: {
      binary(xn->xnode_union_as_XNNBatchMatrixMultiply(), xnnk::Binary::Mul, false);
      n.op = Op::BatchMatmul;
      if ((n.flags & ~uint32_t(XNN_FLAG_TRANSPOSE_WEIGHTS)) != 0)
        unsupported(n, "with flags " + std::to_string(n.flags));
      n.transposedWeights = (n.flags & XNN_FLAG_TRANSPOSE_WEIGHTS) != 0;
      break;
    }
    case NT::XNNConvTranspose2d:
    case NT::XNNArgMaxPooling2d:
    case NT::XNNScaledDotProductAttention:
      unsupported(n, "(node type " + std::to_string(static_cast<int>(n.type)) + ")");
    case NT::NONE:
      invalid("node " + std::to_string(index) + " has no type");
    default:
      fail(ErrorCode::NotSupported, "XnnpackBackend: node ", index, " has unknown type ",
           static_cast<int>(n.type), " (newer than this runtime)", where_);
  }
}

// Every node reads values that exist by then and writes a fresh one.
void XnnpackDelegate::checkDataflow() {
  for (uint32_t i = 0; i < values_.size(); ++i)
    if (values_[i].referenced && values_[i].kind == Value::Kind::Constant) loadConstant(i);
  for (size_t ni = 0; ni < nodes_.size(); ++ni) {
    Node& n = nodes_[ni];
    for (uint32_t vi : n.in) {
      Value& v = values_[vi];
      if ((v.kind == Value::Kind::Internal || v.kind == Value::Kind::Output) && v.producer < 0)
        invalid("node " + std::to_string(n.index) + " " + n.name + " reads value " + std::to_string(vi) +
                " before any node produces it");
      v.lastUse = static_cast<int>(ni);
    }
    Value& o = values_[n.out];
    if (o.kind == Value::Kind::Input || o.kind == Value::Kind::Constant)
      invalid("node " + std::to_string(n.index) + " " + n.name + " writes into an input or constant value");
    if (o.producer >= 0)
      invalid("node " + std::to_string(n.index) + " " + n.name + " writes value " + std::to_string(n.out) +
              ", which node " + std::to_string(o.producer) + " already produced");
    for (uint32_t vi : n.in)
      if (vi == n.out) invalid("node " + std::to_string(n.index) + " " + n.name + " reads its own output");
    o.producer = static_cast<int>(ni);
    if (o.lastUse < static_cast<int>(ni)) o.lastUse = static_cast<int>(ni);
  }
  for (uint32_t e = 0; e < numExterns_; ++e) {
    const Value& v = values_[externalValue_[e]];
    if (v.kind == Value::Kind::Output && v.producer < 0)
      invalid("external output " + std::to_string(e) + " is not produced by any node");
    if (v.dtype != DT::xnn_datatype_fp32 || v.quantized)
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
  slots_ = std::vector<Buffer>(slotHint.size());
}

// ---------------------------------------------------------------------------
// XNNPACK operators

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
  for (Node& n : nodes_)
    if (!reference_ || n.op == Op::Quantize || n.op == Op::Dequantize || n.op == Op::QFullyConnected)
      createOperator(n);
}

void XnnpackDelegate::createOperator(Node& n) {
  xnn_operator_t op = nullptr;
  xnn_status s = xnn_status_success;
  const float lo = n.outMin, hi = n.outMax;
  switch (n.op) {
    case Op::Binary:
      switch (n.binary) {
        case xnnk::Binary::Add: s = xnn_create_add_nd_f32(lo, hi, 0, &op); break;
        case xnnk::Binary::Sub: s = xnn_create_subtract_nd_f32(lo, hi, 0, &op); break;
        case xnnk::Binary::Mul: s = xnn_create_multiply_nd_f32(lo, hi, 0, &op); break;
        case xnnk::Binary::Div: s = xnn_create_divide_nd_f32(lo, hi, 0, &op); break;
        case xnnk::Binary::Min: s = xnn_create_minimum_nd_f32(0, &op); break;
        case xnnk::Binary::Max: s = xnn_create_maximum_nd_f32(0, &op); break;
        default: return;
      }
      break;
    case Op::XnnUnary:
      // channels = 1 with unit strides: XNNPACK treats the tensor as one flat array.
      switch (n.unary) {
        case xnnk::Unary::Clamp:
          if (!(lo < hi)) return;  // degenerate range: our own loop
          s = xnn_create_clamp_nc_f32(1, 1, 1, lo, hi, 0, &op);
          break;
        case xnnk::Unary::Sigmoid: s = xnn_create_sigmoid_nc_f32(1, 1, 1, 0, &op); break;
        case xnnk::Unary::Hardswish: s = xnn_create_hardswish_nc_f32(1, 1, 1, 0, &op); break;
        case xnnk::Unary::Abs: s = xnn_create_abs_nc_f32(1, 1, 1, 0, &op); break;
        case xnnk::Unary::Negate: s = xnn_create_negate_nc_f32(1, 1, 1, 0, &op); break;
        case xnnk::Unary::Square: s = xnn_create_square_nc_f32(1, 1, 1, 0, &op); break;
        case xnnk::Unary::Sqrt: s = xnn_create_square_root_nc_f32(1, 1, 1, 0, &op); break;
        case xnnk::Unary::Floor: s = xnn_create_floor_nc_f32(1, 1, 1, 0, &op); break;
        case xnnk::Unary::Ceil: s = xnn_create_ceiling_nc_f32(1, 1, 1, 0, &op); break;
        case xnnk::Unary::LeakyRelu: s = xnn_create_leaky_relu_nc_f32(1, 1, 1, n.alpha, 0, &op); break;
        case xnnk::Unary::Elu: s = xnn_create_elu_nc_f32(1, 1, 1, n.alpha, 0, &op); break;
        default: return;
      }
      if (s != xnn_status_success) {
        // This XNNPACK refused the parameters (e.g. an ELU alpha it cannot represent): use our loop.
        n.op = Op::OwnUnary;
        return;
      }
      break;
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
    case Op::QFullyConnected: {
      const Value& x = values_[n.in[0]];
      const Value& f = values_[n.in[1]];
      const Value& o = values_[n.out];
      // The fused activation range, in the output's quantized domain.
      auto q = [&](float v) {
        const float r = std::nearbyint(v / o.qscale) + static_cast<float>(o.qzp);
        return static_cast<int8_t>(std::isnan(r) ? 0 : std::min(127.0f, std::max(-128.0f, r)));
      };
      const int8_t qmin = std::isinf(lo) ? int8_t(-128) : q(lo);
      const int8_t qmax = std::isinf(hi) ? int8_t(127) : q(hi);
      if (qmin >= qmax) invalid("node " + std::to_string(n.index) + " FullyConnected has an empty int8 output range");
      // Debian's XNNPACK asserts (aborts) on requantization scales below 2^-32 and refuses
      // those >= 256: check first, computed as it does.
      const float requant = x.qscale * f.qscale / o.qscale;
      if (!(requant >= 0x1.0p-32f && requant < 256.0f))
        unsupported(n, "with requantization scale " + std::to_string(requant) + " (input*filter/output scale)");
      const int32_t* bias =
          n.bias >= 0 ? reinterpret_cast<const int32_t*>(values_[static_cast<size_t>(n.bias)].constData) : nullptr;
      s = xnn_create_fully_connected_nc_qs8(n.ic, n.oc, n.ic, n.oc, static_cast<int8_t>(x.qzp), x.qscale, f.qscale,
                                            reinterpret_cast<const int8_t*>(f.constData), bias,
                                            static_cast<int8_t>(o.qzp), o.qscale, qmin, qmax, 0, &op);
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

// ---------------------------------------------------------------------------
// Execution

void XnnpackDelegate::bindExternals(EValue** args, size_t count) {
  if (count != numExterns_)
    fail(ErrorCode::InvalidProgram, "XnnpackBackend: the delegate call passes ", count,
         " arguments, the graph has ", numExterns_, " external values", where_);
  for (uint32_t e = 0; e < numExterns_; ++e) {
    Value& v = values_[externalValue_[e]];
    EValue* a = args[e];
    if (a == nullptr || a->tag != Tag::Tensor || a->tensor == nullptr)
      fail(ErrorCode::InvalidProgram, "XnnpackBackend: delegate argument ", e, " is not a tensor", where_);
    Tensor* t = a->tensor;
    if (t->dtype() != ScalarType::Float)
      fail(ErrorCode::InvalidArgument, "XnnpackBackend: delegate argument ", e, " is ", t->describe(),
           ", the graph expects float32", where_);
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
  if (safeForXnn(v.data, v.numel * sizeof(float))) return v.data;
  if (v.copyBack) return v.data;  // already our scratch buffer
  float* p = v.scratch.ensure(v.numel, memoryLimit_);
  std::memcpy(p, v.data, v.numel * sizeof(float));
  return p;
}

Shape XnnpackDelegate::inferShape(const Node& n) {
  auto bad = [&](const std::string& msg) -> void {
    fail(ErrorCode::InvalidArgument, "XnnpackBackend: node ", n.index, " ", n.name, ": ", msg, where_);
  };
  const Shape& x = values_[n.in[0]].shape;
  Shape out;
  switch (n.op) {
    case Op::Binary:
    case Op::PRelu: {
      const Shape& y = values_[n.in[1]].shape;
      const size_t r = std::max(x.size(), y.size());
      out.assign(r, 1);
      for (size_t k = 0; k < r; ++k) {
        const size_t dx = k + x.size() >= r ? x[k + x.size() - r] : 1;
        const size_t dy = k + y.size() >= r ? y[k + y.size() - r] : 1;
        if (dx == dy || dy == 1) out[k] = dx;
        else if (dx == 1) out[k] = dy;
        else bad("shapes " + shapeStr(x) + " and " + shapeStr(y) + " do not broadcast");
      }
      if (n.op == Op::PRelu && out != x) bad("slope " + shapeStr(y) + " does not broadcast to " + shapeStr(x));
      return out;
    }
    case Op::XnnUnary:
    case Op::OwnUnary:
    case Op::Softmax:
    case Op::Quantize:
    case Op::Dequantize:
      return x;
    case Op::FullyConnected:
    case Op::QFullyConnected: {
      if (x.empty() || x.back() != n.ic)
        bad("input " + shapeStr(x) + " does not end in " + std::to_string(n.ic) + " input channels");
      out = x;
      out.back() = n.oc;
      return out;
    }
    case Op::Conv2d:
    case Op::MaxPool2d:
    case Op::AvgPool2d: {
      if (x.size() != 4) bad("input " + shapeStr(x) + " is not 4-D (NHWC)");
      const size_t C = x[3];
      if (n.op == Op::Conv2d && C != n.groups * n.gic)
        bad("input " + shapeStr(x) + " has " + std::to_string(C) + " channels, expected " +
            std::to_string(n.groups * n.gic));
      const uint64_t ph = uint64_t(x[1]) + n.pt + n.pb, pw = uint64_t(x[2]) + n.pl + n.pr;
      const uint64_t ekh = uint64_t(n.kh - 1) * n.dh + 1, ekw = uint64_t(n.kw - 1) * n.dw + 1;
      if (ph < ekh || pw < ekw)
        bad("input " + shapeStr(x) + " is smaller than the " + std::to_string(ekh) + "x" + std::to_string(ekw) +
            " window");
      out = {x[0], static_cast<size_t>((ph - ekh) / n.sh + 1), static_cast<size_t>((pw - ekw) / n.sw + 1),
             n.op == Op::Conv2d ? n.groups * n.goc : C};
      return out;
    }
    case Op::GlobalAvgPool2d:
      if (x.size() != 4) bad("input " + shapeStr(x) + " is not 4-D (NHWC)");
      if (n.keepDims) return {x[0], 1, 1, x[3]};
      return {x[0], x[3]};
    case Op::ResizeBilinear2d:
      if (x.size() != 4) bad("input " + shapeStr(x) + " is not 4-D (NHWC)");
      return {x[0], n.newH, n.newW, x[3]};
    case Op::Transpose:
      if (x.size() != n.a.size()) bad("input " + shapeStr(x) + " does not have " + std::to_string(n.a.size()) + " dims");
      out.resize(x.size());
      for (size_t k = 0; k < x.size(); ++k) out[k] = x[n.a[k]];
      return out;
    case Op::Reshape: {
      const size_t total = values_[n.in[0]].numel;
      size_t known = 1, inferred = n.a.size();
      for (size_t k = 0; k < n.a.size(); ++k) {
        if (n.a[k] == 0) inferred = k;
        else known *= n.a[k];
      }
      out = n.a;
      if (inferred < n.a.size()) {
        if (known == 0 || total % known != 0) bad("cannot reshape " + shapeStr(x) + " to " + shapeStr(n.a));
        out[inferred] = total / known;
      } else if (known != total) {
        bad("cannot reshape " + shapeStr(x) + " (" + std::to_string(total) + " elements) to " + shapeStr(n.a));
      }
      return out;
    }
    case Op::Slice: {
      if (x.size() != n.a.size()) bad("input " + shapeStr(x) + " does not have " + std::to_string(n.a.size()) + " dims");
      out.resize(x.size());
      for (size_t k = 0; k < x.size(); ++k) {
        if (n.a[k] > x[k]) bad("offset " + std::to_string(n.a[k]) + " is outside input " + shapeStr(x));
        out[k] = n.b[k] == 0 ? x[k] - n.a[k] : n.b[k];
        if (out[k] > x[k] - n.a[k])
          bad("slice [" + std::to_string(n.a[k]) + ", +" + std::to_string(out[k]) + ") exceeds input " + shapeStr(x));
      }
      return out;
    }
    case Op::Concat: {
      if (n.axis >= x.size()) bad("axis " + std::to_string(n.axis) + " is outside input " + shapeStr(x));
      out = x;
      for (size_t j = 1; j < n.in.size(); ++j) {
        const Shape& y = values_[n.in[j]].shape;
        bool ok = y.size() == x.size();
        for (size_t k = 0; ok && k < x.size(); ++k) ok = k == n.axis || y[k] == x[k];
        if (!ok) bad("inputs " + shapeStr(x) + " and " + shapeStr(y) + " differ outside axis " + std::to_string(n.axis));
        out[n.axis] += y[n.axis];
      }
      return out;
    }
    case Op::Pad:
      if (x.size() != n.a.size()) bad("input " + shapeStr(x) + " does not have " + std::to_string(n.a.size()) + " dims");
      out.resize(x.size());
      for (size_t k = 0; k < x.size(); ++k) out[k] = n.a[k] + x[k] + n.b[k];
      return out;
    case Op::BatchMatmul: {
      const Shape& y = values_[n.in[1]].shape;
      if (x.size() < 2 || y.size() < 2) bad("inputs " + shapeStr(x) + " and " + shapeStr(y) + " are not matrices");
      const size_t M = x[x.size() - 2], K = x.back();
      const size_t Ky = n.transposedWeights ? y.back() : y[y.size() - 2];
      const size_t N = n.transposedWeights ? y[y.size() - 2] : y.back();
      if (K != Ky) bad("inner dimensions of " + shapeStr(x) + " and " + shapeStr(y) + " differ");
      const size_t bx = x.size() - 2, by = y.size() - 2, r = std::max(bx, by);
      out.assign(r + 2, 1);
      for (size_t k = 0; k < r; ++k) {
        const size_t dx = k + bx >= r ? x[k + bx - r] : 1;
        const size_t dy = k + by >= r ? y[k + by - r] : 1;
        if (dx == dy || dy == 1) out[k] = dx;
        else if (dx == 1) out[k] = dy;
        else bad("batch dims of " + shapeStr(x) + " and " + shapeStr(y) + " do not broadcast");
      }
      out[r] = M;
      out[r + 1] = N;
      return out;
    }
  }
  return x;
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
    v.data = slots_[static_cast<size_t>(v.slot)].ensure((v.numel * v.elemSize + 3) / 4, memoryLimit_);
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
  if (v.numel > 0 && reinterpret_cast<uintptr_t>(v.data) % alignof(float) != 0) {
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
    float* out = o.data;
    const Shape& x = values_[n.in[0]].shape;
    if (anyEmpty && n.op != Op::Concat && n.op != Op::Pad) {
      // Only padding and concatenation can make something from nothing; other
      // nodes with an empty input have an empty output (or a reduction of nothing).
      std::memset(out, 0, o.numel * o.elemSize);
    } else {
      switch (n.op) {
        case Op::Binary: {
          const Shape& y = values_[n.in[1]].shape;
          const float* a = src(n.in[0]);
          const float* b = src(n.in[1]);
          if (n.xop && !x.empty() && !y.empty() && x.size() <= kXnnMaxDims && y.size() <= kXnnMaxDims) {
            xnn_status s;
            switch (n.binary) {
              case xnnk::Binary::Add: s = xnn_setup_add_nd_f32(n.xop.get(), x.size(), x.data(), y.size(), y.data(), a, b, out, pool_); break;
              case xnnk::Binary::Sub: s = xnn_setup_subtract_nd_f32(n.xop.get(), x.size(), x.data(), y.size(), y.data(), a, b, out, pool_); break;
              case xnnk::Binary::Mul: s = xnn_setup_multiply_nd_f32(n.xop.get(), x.size(), x.data(), y.size(), y.data(), a, b, out, pool_); break;
              case xnnk::Binary::Div: s = xnn_setup_divide_nd_f32(n.xop.get(), x.size(), x.data(), y.size(), y.data(), a, b, out, pool_); break;
              case xnnk::Binary::Min: s = xnn_setup_minimum_nd_f32(n.xop.get(), x.size(), x.data(), y.size(), y.data(), a, b, out, pool_); break;
              case xnnk::Binary::Max: s = xnn_setup_maximum_nd_f32(n.xop.get(), x.size(), x.data(), y.size(), y.data(), a, b, out, pool_); break;
              default: s = xnn_status_invalid_parameter; break;
            }
            check(n, s, "setup");
            check(n, xnn_run_operator(n.xop.get(), pool_), "run");
          } else {
            xnnk::binary(n.binary, a, x, b, y, out, shape, n.outMin, n.outMax);
          }
          break;
        }
        case Op::PRelu:
          xnnk::binary(xnnk::Binary::PRelu, src(n.in[0]), x, src(n.in[1]), values_[n.in[1]].shape, out, shape,
                       -kInf, kInf);
          break;
        case Op::XnnUnary: {
          const float* a = src(n.in[0]);
          if (!n.xop) {
            xnnk::unary(n.unary, a, out, o.numel, n.alpha, n.outMin, n.outMax);
            break;
          }
          xnn_status s;
          switch (n.unary) {
            case xnnk::Unary::Clamp: s = xnn_setup_clamp_nc_f32(n.xop.get(), o.numel, a, out, pool_); break;
            case xnnk::Unary::Sigmoid: s = xnn_setup_sigmoid_nc_f32(n.xop.get(), o.numel, a, out, pool_); break;
            case xnnk::Unary::Hardswish: s = xnn_setup_hardswish_nc_f32(n.xop.get(), o.numel, a, out, pool_); break;
            case xnnk::Unary::Abs: s = xnn_setup_abs_nc_f32(n.xop.get(), o.numel, a, out, pool_); break;
            case xnnk::Unary::Negate: s = xnn_setup_negate_nc_f32(n.xop.get(), o.numel, a, out, pool_); break;
            case xnnk::Unary::Square: s = xnn_setup_square_nc_f32(n.xop.get(), o.numel, a, out, pool_); break;
            case xnnk::Unary::Sqrt: s = xnn_setup_square_root_nc_f32(n.xop.get(), o.numel, a, out, pool_); break;
            case xnnk::Unary::Floor: s = xnn_setup_floor_nc_f32(n.xop.get(), o.numel, a, out, pool_); break;
            case xnnk::Unary::Ceil: s = xnn_setup_ceiling_nc_f32(n.xop.get(), o.numel, a, out, pool_); break;
            case xnnk::Unary::LeakyRelu: s = xnn_setup_leaky_relu_nc_f32(n.xop.get(), o.numel, a, out, pool_); break;
            case xnnk::Unary::Elu: s = xnn_setup_elu_nc_f32(n.xop.get(), o.numel, a, out, pool_); break;
            default: s = xnn_status_invalid_parameter; break;
          }
          check(n, s, "setup");
          check(n, xnn_run_operator(n.xop.get(), pool_), "run");
          break;
        }
        case Op::OwnUnary:
          xnnk::unary(n.unary, src(n.in[0]), out, o.numel, n.alpha, n.outMin, n.outMax);
          break;
        case Op::Softmax: {
          const size_t channels = x.empty() ? 1 : x.back();
          if (!ensureChannelsOp(n, channels)) {
            xnnk::softmax(src(n.in[0]), o.numel / channels, channels, out);
            break;
          }
          check(n, xnn_setup_softmax_nc_f32(n.xop.get(), o.numel / channels, src(n.in[0]), out, pool_), "setup");
          check(n, xnn_run_operator(n.xop.get(), pool_), "run");
          break;
        }
        case Op::FullyConnected: {
          const size_t batch = o.numel / n.oc;
          if (n.xop) {
            check(n, xnn_setup_fully_connected_nc_f32(n.xop.get(), batch, src(n.in[0]), out, pool_), "setup");
            check(n, xnn_run_operator(n.xop.get(), pool_), "run");
          } else {
            const float* bias = n.bias >= 0 ? src(static_cast<uint32_t>(n.bias)) : nullptr;
            xnnk::fullyConnected(src(n.in[0]), src(n.in[1]), bias, out, batch, n.ic, n.oc, n.transposedWeights,
                                 n.outMin, n.outMax);
          }
          break;
        }
        case Op::Conv2d:
          if (!n.xop) {
            const float* bias = n.bias >= 0 ? src(static_cast<uint32_t>(n.bias)) : nullptr;
            xnnk::conv2dNhwc(src(n.in[0]), x[0], x[1], x[2], src(n.in[1]), bias, convParams(n), out, shape[1],
                             shape[2], n.outMin, n.outMax);
            break;
          }
          check(n, xnn_setup_convolution2d_nhwc_f32(n.xop.get(), x[0], x[1], x[2], src(n.in[0]), out, pool_), "setup");
          check(n, xnn_run_operator(n.xop.get(), pool_), "run");
          break;
        case Op::MaxPool2d:
          if (!ensureChannelsOp(n, x[3])) {
            xnnk::pool2dNhwc(true, src(n.in[0]), x[0], x[1], x[2], x[3], convParams(n), out, shape[1], shape[2],
                             n.outMin, n.outMax);
            break;
          }
          check(n, xnn_setup_max_pooling2d_nhwc_f32(n.xop.get(), x[0], x[1], x[2], src(n.in[0]), out, pool_), "setup");
          check(n, xnn_run_operator(n.xop.get(), pool_), "run");
          break;
        case Op::AvgPool2d:
          if (!ensureChannelsOp(n, x[3])) {
            xnnk::pool2dNhwc(false, src(n.in[0]), x[0], x[1], x[2], x[3], convParams(n), out, shape[1], shape[2],
                             n.outMin, n.outMax);
            break;
          }
          check(n, xnn_setup_average_pooling2d_nhwc_f32(n.xop.get(), x[0], x[1], x[2], src(n.in[0]), out, pool_),
                "setup");
          check(n, xnn_run_operator(n.xop.get(), pool_), "run");
          break;
        case Op::GlobalAvgPool2d:
          // Our loop, not Debian's XNNPACK: current XNNPACK (what official runtimes use)
          // computes this mean as a plain sequential f32 sum times 1/(H*W), and so does
          // this loop, bit for bit; the 2022 operator sums in another order (differs by
          // ~1e-4 relative over a 1024x1024 image).
          xnnk::globalAvgPool(src(n.in[0]), x[0], x[1] * x[2], x[3], out, n.outMin, n.outMax);
          break;
        case Op::ResizeBilinear2d:
          ensureChannelsOp(n, x[3]);
          check(n, xnn_setup_resize_bilinear2d_nhwc_f32(n.xop.get(), x[0], x[1], x[2], n.newH, n.newW, src(n.in[0]),
                                                        out, pool_),
                "setup");
          check(n, xnn_run_operator(n.xop.get(), pool_), "run");
          break;
        case Op::Quantize:
          check(n, xnn_setup_convert_nc_f32_qs8(n.xop.get(), o.numel, src(n.in[0]), reinterpret_cast<int8_t*>(out), pool_),
                "setup");
          check(n, xnn_run_operator(n.xop.get(), pool_), "run");
          break;
        case Op::Dequantize:
          check(n, xnn_setup_convert_nc_qs8_f32(n.xop.get(), o.numel, reinterpret_cast<const int8_t*>(src(n.in[0])), out,
                                                pool_),
                "setup");
          check(n, xnn_run_operator(n.xop.get(), pool_), "run");
          break;
        case Op::QFullyConnected:
          check(n, xnn_setup_fully_connected_nc_qs8(n.xop.get(), o.numel / n.oc,
                                                    reinterpret_cast<const int8_t*>(src(n.in[0])),
                                                    reinterpret_cast<int8_t*>(out), pool_),
                "setup");
          check(n, xnn_run_operator(n.xop.get(), pool_), "run");
          break;
        case Op::Transpose:
          xnnk::transpose(src(n.in[0]), x, n.a, out);
          break;
        case Op::Reshape:
          std::memcpy(out, src(n.in[0]), o.numel * sizeof(float));
          break;
        case Op::Slice:
          xnnk::slice(src(n.in[0]), x, n.a, shape, out);
          break;
        case Op::Concat: {
          std::vector<const float*> ins;
          std::vector<Shape> shapes;
          for (uint32_t vi : n.in) {
            ins.push_back(src(vi));
            shapes.push_back(values_[vi].shape);
          }
          xnnk::concat(ins, shapes, n.axis, out);
          break;
        }
        case Op::Pad:
          xnnk::constantPad(src(n.in[0]), x, n.a, shape, n.alpha, out);
          break;
        case Op::BatchMatmul:
          xnnk::batchMatmul(src(n.in[0]), x, src(n.in[1]), values_[n.in[1]].shape, out, shape,
                            n.transposedWeights);
          break;
      }
    }
  }
  if (o.copyBack) std::memcpy(o.tensor->data(), o.data, o.numel * sizeof(float));
}

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

// ---------------------------------------------------------------------------
// The backend

class XnnpackBackend final : public Backend {
 public:
  std::unique_ptr<DelegateHandle> init(const DelegateInitContext& ctx) override {
    std::call_once(once_, [this] { status_ = xnn_initialize(nullptr); });
    if (status_ != xnn_status_success)
      fail(ErrorCode::BackendNotAvailable, "XnnpackBackend: XNNPACK failed to initialize (status ",
           static_cast<int>(status_), "); this CPU may be unsupported");
    try {
      return std::make_unique<XnnpackDelegate>(ctx, ctx.threadpool);
    } catch (const std::bad_alloc&) {
      fail(ErrorCode::OutOfMemory, "XnnpackBackend: out of memory while preparing method '", ctx.methodName,
           "' delegate ", ctx.delegateIndex);
    }
  }

 private:
  std::once_flag once_;
  xnn_status status_ = xnn_status_uninitialized;
};

XnnpackBackend& backendInstance() {
  static XnnpackBackend* backend = new XnnpackBackend();  // never destroyed: handles may outlive static teardown
  return *backend;
}

const bool kBackendRegistered = registerBackend("XnnpackBackend", &backendInstance());

}  // namespace
}  // namespace etn
