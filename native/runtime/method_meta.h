// What a method looks like without building it: inputs and outputs, operators,
// delegates and planned memory. Works for programs we cannot run (unknown ops
// or backends), so users and the inspect command can see why.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "backend.h"
#include "evalue.h"
#include "program.h"

namespace etn {

struct ValueMeta {
  Tag tag = Tag::None;
  // Tensor
  ScalarType dtype = ScalarType::Float;
  std::vector<int64_t> sizes;
  std::vector<uint8_t> dimOrder;
  ShapeDynamism dynamism = ShapeDynamism::Static;
  // Scalars (inputs fixed at export time, constant-method outputs)
  int64_t i = 0;
  double d = 0;
  bool b = false;
  std::string str;
};

struct DelegateMeta {
  std::string id;
  std::string location;  // "inline" | "segment"
  uint32_t index = 0;
  size_t size = 0;
  std::vector<std::string> compileSpecKeys;
  bool hasSummary = false;
  DelegateSummary summary;
  std::string summaryError;  // set when the payload could not be described
};

struct MethodMeta {
  std::string name;
  std::vector<ValueMeta> inputs;
  std::vector<ValueMeta> outputs;
  std::vector<std::string> operators;           // distinct, in program order
  std::map<std::string, size_t> operatorCalls;  // op -> KernelCall count
  std::vector<DelegateMeta> delegates;
  std::vector<int64_t> plannedBufferSizes;      // buffer k serves memory_id k+1
  size_t instructionCount = 0;
  size_t valueCount = 0;
};

// Throws InvalidProgram when indices in the plan are out of range.
MethodMeta describeMethod(const Program& program, const std::string& method);

}  // namespace etn
