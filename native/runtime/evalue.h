// The values table entry of a method: a tagged value. Lists refer to other
// entries of the same table (IntList items can be symbolic ints computed at
// run time, so they are read when the kernel runs, never cached).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "error.h"
#include "tensor.h"

namespace etn {

enum class Tag : uint8_t {
  None, Int, Double, Bool, String, Tensor, IntList, DoubleList, BoolList, TensorList,
  OptionalTensorList,
};

const char* tagName(Tag t);

struct EValue {
  Tag tag = Tag::None;
  int64_t i = 0;
  double d = 0;
  bool b = false;
  std::string str;
  Tensor* tensor = nullptr;
  std::vector<EValue*> items;   // IntList / TensorList / OptionalTensorList (nullptr = None)
  std::vector<double> doubles;  // DoubleList
  std::vector<bool> bools;      // BoolList

  bool isNone() const { return tag == Tag::None; }
  bool isTensor() const { return tag == Tag::Tensor; }
  bool isInt() const { return tag == Tag::Int; }
  bool isDouble() const { return tag == Tag::Double; }
  bool isBool() const { return tag == Tag::Bool; }
};

}  // namespace etn
