// What a kernel receives: the op's argument list (value-table entries in schema
// order, the out tensor(s) last), with typed accessors that fail with an error
// naming the op and the argument.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <pthreadpool.h>

#include "error.h"
#include "evalue.h"

namespace etn {

// A Python-style number argument (aten "Scalar"): int, float or bool.
struct Scalar {
  enum class Kind : uint8_t { Int, Double, Bool } kind = Kind::Int;
  int64_t i = 0;
  double d = 0;
  bool isFloating() const { return kind == Kind::Double; }
  bool isBool() const { return kind == Kind::Bool; }
  double toDouble() const { return kind == Kind::Double ? d : static_cast<double>(i); }
  int64_t toInt() const { return i; }  // truncated (and saturated) for Double
};

class KernelArgs {
 public:
  KernelArgs(const std::string& op, EValue** values, size_t count, pthreadpool_t threadpool = nullptr)
      : op_(op), values_(values), count_(count), threadpool_(threadpool) {}

  const std::string& op() const { return op_; }
  // The program's worker threads (nullptr: run on the calling thread). Kernels that
  // parallelise share it with the backends.
  pthreadpool_t threadpool() const { return threadpool_; }
  size_t size() const { return count_; }
  EValue& at(size_t i) const;

  // Throws InvalidProgram unless the call has exactly n arguments.
  void expectCount(size_t n) const;

  Tensor& tensor(size_t i) const;
  Tensor* optTensor(size_t i) const;  // nullptr for None
  int64_t toInt(size_t i) const;
  std::optional<int64_t> optInt(size_t i) const;
  double toDouble(size_t i) const;    // Double, or Int widened
  std::optional<double> optDouble(size_t i) const;
  bool toBool(size_t i) const;
  Scalar scalar(size_t i) const;
  std::optional<Scalar> optScalar(size_t i) const;
  std::vector<int64_t> intList(size_t i) const;
  std::optional<std::vector<int64_t>> optIntList(size_t i) const;
  std::vector<bool> boolList(size_t i) const;
  std::vector<double> doubleList(size_t i) const;
  std::vector<Tensor*> tensorList(size_t i) const;
  std::vector<Tensor*> optTensorList(size_t i) const;  // None entries are nullptr
  std::optional<ScalarType> optScalarType(size_t i) const;
  const std::string& toString(size_t i) const;

  // Output shapes: resizes `out` to `sizes` (within its bound), failing with the op's name.
  void resizeOut(Tensor& out, const std::vector<int64_t>& sizes) const;

  template <typename... Parts>
  [[noreturn]] void fail(ErrorCode code, const Parts&... parts) const {
    etn::fail(code, op_, ": ", parts...);
  }

 private:
  [[noreturn]] void wrongTag(size_t i, const char* expected) const;

  const std::string& op_;
  EValue** values_;
  size_t count_;
  pthreadpool_t threadpool_;
};

using KernelFn = void (*)(KernelArgs& args);

}  // namespace etn
