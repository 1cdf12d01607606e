// XnnpackDelegate: one XNNPACK delegate of a method. Runs the graph of the payload
// (f32; fp16 / bf16 values held as f32; static int8; dynamically quantized linears)
// with the OPERATOR API of Debian's XNNPACK (operators are created, and weights
// packed, once at init; each call sets them up with that call's actual shapes, so
// dynamic-shape inputs work), plus our own loops for what that XNNPACK lacks. See
// README.md in this directory for the node list.
//
// One class; its member functions are defined across the files named below.
#pragma once
#include <pthreadpool.h>
#include <xnnpack.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "../../runtime/backend.h"
#include "../../runtime/evalue.h"
#include "../../runtime/program.h"
#include "xnnpack_buffer.h"
#include "xnnpack_graph.h"
#include "xnnpack_kernels.h"
#include "xnnpack_payload.h"

namespace etn {
namespace xnnpack {

class XnnpackDelegate final : public DelegateHandle {
 public:
  XnnpackDelegate(const DelegateInitContext& ctx, pthreadpool_t pool);
  void execute(EValue** args, size_t count) override;

 private:
  // Init and errors (xnnpack_delegate.cpp)
  [[noreturn]] void invalid(const std::string& msg) const;
  [[noreturn]] void unsupported(const Node& n, const std::string& what) const;

  // Values, dataflow, buffer plan (xnnpack_graph.cpp)
  void parseValues();
  const uint8_t* constantBytes(uint32_t idx, uint64_t need, const std::string& what) const;
  void loadConstant(uint32_t v);
  void checkDataflow();
  void planSlots();

  // Nodes (xnnpack_nodes.cpp): one parser per node family
  void parseNodes();
  void parseNode(const fx::XNode* xn, uint32_t index);
  uint32_t valueRef(const Node& n, uint32_t id, const char* role);
  void requireF32(const Node& n, uint32_t v, const char* role) const;
  void requireFloat(const Node& n, uint32_t v, const char* role) const;
  bool isQs8(uint32_t v) const;
  void requireQuant(const Node& n, uint32_t v, DT dtype, const char* role) const;
  bool sameQuant(uint32_t a, uint32_t b) const;
  void quantizedRange(Node& n, uint32_t out) const;
  void requantScales(Node& n, uint32_t input, uint32_t filter, size_t channels);
  void addBias(Node& n, uint32_t id);
  void checkBiasSize(const Node& n, const std::string& at, size_t expected) const;
  std::vector<size_t> dimsList(const Node& n, const flatbuffers::Vector<uint32_t>* v, const char* what) const;
  void parseInOut(Node& n, uint32_t inputId, uint32_t outputId);
  void parseMoveInOut(Node& n, uint32_t inputId, uint32_t outputId);
  void parseOneToOne(Node& n, const fx::_XNNNode1x1* t, Op op);
  void parseAlphaUnary(Node& n, uint32_t inputId, uint32_t outputId, xnnk::Unary u, float alpha, const char* what);
  void parseBinary(Node& n, const fx::_XNNNode2x1* t, xnnk::Binary op, bool clamps, bool qs8 = false);
  void parseConvert(Node& n, const fx::_XNNNode1x1* t);
  void parseFullyConnected(Node& n, const fx::XNNFullyConnected* t);
  void readConvWindow(Node& n, const fx::_XNNNodeConv* t);
  void parseConv(Node& n, const fx::_XNNNodeConv* t, bool depthwise);
  void parseConvTranspose(Node& n, const fx::_XNNNodeConv* t);
  void parsePool(Node& n, const fx::_XNNPooling2D* t, Op op);
  void parseResize(Node& n, const fx::XNNStaticResizeBilinear2D* t);
  void parseTranspose(Node& n, const fx::XNNStaticTranspose* t);
  void parseReshape(Node& n, const fx::XNNStaticReshape* t);
  void parseSlice(Node& n, const fx::XNNStaticSlice* t);
  void parsePad(Node& n, const fx::XNNStaticConstantPad* t);
  void parseConcat(Node& n, const fx::_XNNCat* t, int count);

  // Dynamically quantized linears, 8da4w / 8da8w (xnnpack_dynamic_quant.cpp)
  void parseDynamicQuantize(Node& n, uint32_t input, uint32_t output);
  void parseQD8FullyConnected(Node& n, const fx::XNNFullyConnected* t);
  void packQD8Weights(Node& n);
  std::vector<float> perChannelScales(const Node& n, uint32_t filter) const;
  std::vector<uint16_t> blockScalesBf16(const Node& n, uint32_t filter, size_t blockSize) const;
  void runDynamicQuantize(Node& n);
  void runQD8FullyConnected(Node& n);
  void runQuantized(Node& n, const Shape& shape);  // static int8 nodes (xnnpack_run.cpp)

  // Weight-only int8 linears, 8w: fp32 x qcint8 (xnnpack_weight_only.cpp)
  void parseF32QC8WFullyConnected(Node& n, const fx::XNNFullyConnected* t);
  void packF32QC8WWeights(Node& n);
  void runF32QC8WFullyConnected(Node& n);

  // XNNPACK operators (xnnpack_operators.cpp)
  void createOperators();
  void createOperator(Node& n);
  bool ensureChannelsOp(Node& n, size_t channels);
  xnnk::Conv2dParams convParams(const Node& n) const;
  void check(const Node& n, xnn_status s, const char* stage) const;

  // Shapes (xnnpack_shapes.cpp)
  Shape inferShape(const Node& n);

  // Execution (xnnpack_run.cpp)
  void bindExternals(EValue** args, size_t count);
  void prepareOutput(Node& n, const Shape& shape);
  const float* src(uint32_t v);
  void runNode(Node& n);
  void compute(Node& n, const Shape& shape);
  void setupAndRun(const Node& n, xnn_status setup);

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
  // Buffers of internal values, shared by all XNNPACK delegates of the method.
  std::shared_ptr<std::vector<Buffer>> slots_;
};

}  // namespace xnnpack
}  // namespace etn
