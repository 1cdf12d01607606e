// The XNNPACK delegate's model of a graph: values (serialized tensors, with their
// per-call shape and memory) and nodes (what to compute, with the XNNPACK
// operator made for it), plus the naming and shape helpers the rest shares.
#pragma once
#include <pthreadpool.h>
#include <xnnpack.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "../../microkernels/f32_qc8w_gemm.h"
#include "../../microkernels/qd8_gemm.h"
#include "../../runtime/tensor.h"
#include "xnnpack_buffer.h"
#include "xnnpack_kernels.h"
#include "xnnpack_payload.h"

namespace etn {
namespace xnnpack {

namespace fx = fb_xnnpack;
using xnnk::Shape;
using DT = fx::XNNDatatype;
using NT = fx::XNodeUnion;

constexpr uint32_t kInvalidId = std::numeric_limits<uint32_t>::max();
constexpr size_t kMaxRank = 16;
constexpr float kInf = std::numeric_limits<float>::infinity();

struct OpDeleter {
  void operator()(xnn_operator_t op) const {
    if (op) xnn_delete_operator(op);
  }
};
using XnnOp = std::unique_ptr<xnn_operator, OpDeleter>;

// The xnn_setup_* functions of the elementwise operators: one signature per family.
using BinarySetup = xnn_status (*)(xnn_operator_t, size_t, const size_t*, size_t, const size_t*, const float*,
                                   const float*, float*, pthreadpool_t);
using UnarySetup = xnn_status (*)(xnn_operator_t, size_t, const float*, float*, pthreadpool_t);

enum class Op : uint8_t {
  Binary,         // Add/Sub/Mul/Div/Min/Max (XNNPACK nd ops, own loop above 6 dims)
  QAdd,           // Add of per-tensor qint8 values (XNNPACK qs8 add; own fixed-point loop in reference mode)
  PRelu,          // own loop
  XnnUnary,       // Clamp, Sigmoid, Hardswish, LeakyReLU, ELU, Abs, Negate, Square, Sqrt, Floor, Ceiling
  OwnUnary,       // Tanh, Exp, Log, Sin, Cos, Gelu, ReciprocalSquareRoot, Copy
  Softmax,
  FullyConnected,
  Conv2d,         // also depthwise
  ConvTranspose2d, // XNNPACK deconvolution (own loop when it refuses the parameters)
  QConv2d,        // Conv2d / DepthwiseConv2d on qint8 values, qint8 (per tensor) or qcint8 (per channel) filter
  MaxPool2d,
  QMaxPool2d,     // on qint8 values (own loop: a max is exact)
  AvgPool2d,
  GlobalAvgPool2d,
  QGlobalAvgPool2d, // on qint8 values (own loop: int32 sums, one float scale, round to nearest even)
  ResizeBilinear2d,
  Transpose,
  Reshape,
  Slice,
  Concat,
  Pad,
  BatchMatmul,
  Quantize,        // Convert fp32 -> qint8 (per tensor)
  Dequantize,      // Convert qint8 (per tensor) -> fp32
  QFullyConnected, // qint8 input/output, qint8 (per tensor) or qcint8 (per channel) filter, qint32/qcint32 bias
  DynamicQuantize, // Convert fp32 -> qdint8 (per-row scale and zero point chosen per call)
  QD8FullyConnected, // qdint8 input x qbint4 / qcint4 / qcint8 filter -> fp32 (our microkernels)
  F32QC8WFullyConnected, // fp32 input x qcint8 filter -> fp32, weight-only int8 (our microkernels)
};

struct Value {
  enum class Kind : uint8_t { Absent, Internal, Constant, Input, Output };
  Kind kind = Kind::Absent;
  DT dtype = DT::xnn_datatype_invalid;
  bool quantized = false;
  bool perTensor = false;  // quantized with PerTensorQuant
  float qscale = 1.0f;
  int32_t qzp = 0;
  const fx::PerChannelQuant* perChannel = nullptr;            // qcint4 / qcint8 filters
  const fx::PerChannelGroupQuant* perChannelGroup = nullptr;  // qbint4 filters
  int32_t dynamicNonBatchDims = 0;                            // qdint8 (PerTokenDynamicQuant): > 0
  size_t elemSize = 4;     // bytes per element in memory: 1 for the 8-bit types; fp16/bf16 are held as f32
  size_t storedElemSize = 4;  // bytes per element of serialized constants (2 for fp16/bf16)
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
  Buffer scratch;            // padded copy of an external tensor for XNNPACK reads / aligned writes; the f32
                             // copy of an fp16/bf16 external tensor
  Buffer owned;              // memory for an output tensor that has none of its own
  Buffer rowParams;          // qdint8: mk::QD8Params of each row
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
  uint32_t adjH = 0, adjW = 0;  // transposed convolution: extra output rows / columns (output_padding)
  // Static int8
  std::vector<float> qscale;    // QConv2d / QFullyConnected: input * filter[oc] / output scale per output channel
  std::vector<float> filterScales;  // qcint8 filter scales (what XNNPACK's qc8 operator takes)
  bool qPerChannel = false;
  int8_t qmin = -128, qmax = 127;  // the output range in the output's quantized domain
  xnnk::QAddParams qadd;

  XnnOp xop;
  std::unique_ptr<mk::PackedWeights> packed;  // QD8FullyConnected: the filter, packed once at init
  std::unique_ptr<mk::F32QC8WWeights> packedQc8w;  // F32QC8WFullyConnected: the filter, packed once at init
  BinarySetup setupBinary = nullptr;  // with xop for Op::Binary
  UnarySetup setupUnary = nullptr;    // with xop for Op::XnnUnary
  size_t xopChannels = 0;  // channels the lazily created operator was made for
  bool xopTried = false;   // ensureChannelsOp ran for xopChannels (xop null: XNNPACK refused, own loop)
};

// "qint8", "fp32", ... for messages.
std::string dtypeName(DT t);
// "Add", "Conv2d", ... for messages.
std::string nodeTypeName(NT t);
// "node 3 Add", how messages name a node.
std::string nodeLabel(const Node& n);
// "[1, 3, 224, 224]".
std::string shapeStr(const Shape& s);
// numel with overflow and sanity checks; false when absurd.
bool checkedNumel(const Shape& s, uint64_t* out);
// Bytes a constant value occupies in the payload (4-bit values: two per byte, rows padded).
uint64_t storedBytes(const Value& v);
// fp32, fp16 or bf16, not quantized (fp16 / bf16 are computed in f32, rounded to their precision).
bool isFloatValue(const Value& v);
// fp16 or bf16, not quantized.
bool isLowFloat(const Value& v);

}  // namespace xnnpack
}  // namespace etn
