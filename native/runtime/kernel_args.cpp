#include "kernel_args.h"

#include <cmath>
#include <cstdint>

namespace etn {

EValue& KernelArgs::at(size_t i) const {
  if (i >= count_)
    fail(ErrorCode::InvalidProgram, "argument ", i, " is missing (the call has ", count_, ")");
  return *values_[i];
}

void KernelArgs::expectCount(size_t n) const {
  if (count_ != n)
    fail(ErrorCode::InvalidProgram, "expects ", n, " arguments, the program passes ", count_);
}

void KernelArgs::wrongTag(size_t i, const char* expected) const {
  fail(ErrorCode::InvalidProgram, "argument ", i, " is ", tagName(at(i).tag), ", expected ",
       expected);
}

Tensor& KernelArgs::tensor(size_t i) const {
  EValue& v = at(i);
  if (v.tag != Tag::Tensor || v.tensor == nullptr) wrongTag(i, "Tensor");
  return *v.tensor;
}

Tensor* KernelArgs::optTensor(size_t i) const {
  EValue& v = at(i);
  if (v.tag == Tag::None) return nullptr;
  return &tensor(i);
}

int64_t KernelArgs::toInt(size_t i) const {
  EValue& v = at(i);
  if (v.tag == Tag::Int) return v.i;
  if (v.tag == Tag::Bool) return v.b ? 1 : 0;
  wrongTag(i, "Int");
}

std::optional<int64_t> KernelArgs::optInt(size_t i) const {
  if (at(i).tag == Tag::None) return std::nullopt;
  return toInt(i);
}

double KernelArgs::toDouble(size_t i) const {
  EValue& v = at(i);
  if (v.tag == Tag::Double) return v.d;
  if (v.tag == Tag::Int) return static_cast<double>(v.i);
  if (v.tag == Tag::Bool) return v.b ? 1.0 : 0.0;
  wrongTag(i, "Double");
}

std::optional<double> KernelArgs::optDouble(size_t i) const {
  if (at(i).tag == Tag::None) return std::nullopt;
  return toDouble(i);
}

bool KernelArgs::toBool(size_t i) const {
  EValue& v = at(i);
  if (v.tag == Tag::Bool) return v.b;
  if (v.tag == Tag::Int) return v.i != 0;
  wrongTag(i, "Bool");
}

Scalar KernelArgs::scalar(size_t i) const {
  EValue& v = at(i);
  Scalar s;
  switch (v.tag) {
    case Tag::Int: s.kind = Scalar::Kind::Int; s.i = v.i; s.d = static_cast<double>(v.i); break;
    case Tag::Double:
      s.kind = Scalar::Kind::Double;
      s.d = v.d;
      // Saturating: a plain cast of NaN or an out-of-range double is undefined behaviour.
      s.i = std::isnan(v.d) ? 0
            : v.d >= 9.2233720368547758e18 ? INT64_MAX
            : v.d <= -9.2233720368547758e18 ? INT64_MIN
            : static_cast<int64_t>(v.d);
      break;
    case Tag::Bool: s.kind = Scalar::Kind::Bool; s.i = v.b ? 1 : 0; s.d = s.i; break;
    default: wrongTag(i, "Scalar");
  }
  return s;
}

std::optional<Scalar> KernelArgs::optScalar(size_t i) const {
  if (at(i).tag == Tag::None) return std::nullopt;
  return scalar(i);
}

std::vector<int64_t> KernelArgs::intList(size_t i) const {
  EValue& v = at(i);
  if (v.tag != Tag::IntList) wrongTag(i, "IntList");
  std::vector<int64_t> out;
  out.reserve(v.items.size());
  for (size_t k = 0; k < v.items.size(); ++k) {
    const EValue* item = v.items[k];
    if (item == nullptr || (item->tag != Tag::Int && item->tag != Tag::Bool))
      fail(ErrorCode::InvalidProgram, "argument ", i, " item ", k, " is not an Int");
    out.push_back(item->tag == Tag::Int ? item->i : (item->b ? 1 : 0));
  }
  return out;
}

std::optional<std::vector<int64_t>> KernelArgs::optIntList(size_t i) const {
  if (at(i).tag == Tag::None) return std::nullopt;
  return intList(i);
}

std::vector<bool> KernelArgs::boolList(size_t i) const {
  EValue& v = at(i);
  if (v.tag != Tag::BoolList) wrongTag(i, "BoolList");
  return v.bools;
}

std::vector<double> KernelArgs::doubleList(size_t i) const {
  EValue& v = at(i);
  if (v.tag != Tag::DoubleList) wrongTag(i, "DoubleList");
  return v.doubles;
}

std::vector<Tensor*> KernelArgs::tensorList(size_t i) const {
  EValue& v = at(i);
  if (v.tag != Tag::TensorList) wrongTag(i, "TensorList");
  std::vector<Tensor*> out;
  for (size_t k = 0; k < v.items.size(); ++k) {
    const EValue* item = v.items[k];
    if (item == nullptr || item->tag != Tag::Tensor)
      fail(ErrorCode::InvalidProgram, "argument ", i, " item ", k, " is not a Tensor");
    out.push_back(item->tensor);
  }
  return out;
}

std::vector<Tensor*> KernelArgs::optTensorList(size_t i) const {
  EValue& v = at(i);
  if (v.tag != Tag::OptionalTensorList && v.tag != Tag::TensorList)
    wrongTag(i, "OptionalTensorList");
  std::vector<Tensor*> out;
  for (size_t k = 0; k < v.items.size(); ++k) {
    const EValue* item = v.items[k];
    if (item == nullptr || item->tag == Tag::None) {
      out.push_back(nullptr);
    } else if (item->tag == Tag::Tensor) {
      out.push_back(item->tensor);
    } else {
      fail(ErrorCode::InvalidProgram, "argument ", i, " item ", k, " is not a Tensor or None");
    }
  }
  return out;
}

std::optional<ScalarType> KernelArgs::optScalarType(size_t i) const {
  EValue& v = at(i);
  if (v.tag == Tag::None) return std::nullopt;
  if (v.tag != Tag::Int) wrongTag(i, "ScalarType (Int)");
  if (!isKnownScalarType(static_cast<int>(v.i)) || v.i < 0 || v.i > 127)
    fail(ErrorCode::InvalidProgram, "argument ", i, " is not a known scalar type code: ", v.i);
  return static_cast<ScalarType>(v.i);
}

const std::string& KernelArgs::toString(size_t i) const {
  EValue& v = at(i);
  if (v.tag != Tag::String) wrongTag(i, "String");
  return v.str;
}

void KernelArgs::resizeOut(Tensor& out, const std::vector<int64_t>& sizes) const {
  const std::string what = op_ + " output";
  out.resize(sizes, what.c_str());
}

}  // namespace etn
