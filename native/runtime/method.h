// An executable method: the values table with tensors bound to constants,
// planned memory or inputs; instructions resolved to kernels and delegate
// handles. Built once, run many times; one run at a time (the caller queues).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "backend.h"
#include "evalue.h"
#include "kernel_args.h"
#include "program.h"

namespace etn {

// A value crossing the JS boundary: a tensor with its own bytes, or a scalar.
struct HostValue {
  Tag tag = Tag::None;
  int64_t i = 0;
  double d = 0;
  bool b = false;
  std::string str;
  ScalarType dtype = ScalarType::Float;
  std::vector<int64_t> sizes;
  std::vector<uint8_t> bytes;  // tensor data, row-major contiguous
};

struct MethodOptions {
  // Upper bound on the planned memory of one method; 0 = the machine's physical memory.
  uint64_t memoryLimit = 0;
  // Shared by the program's delegates and parallel kernels; owned by the caller.
  pthreadpool_t threadpool = nullptr;
};

class Method {
 public:
  // Throws OperatorMissing / BackendNotAvailable / InvalidProgram / OutOfMemory.
  Method(std::shared_ptr<const Program> program, const fb::ExecutionPlan* plan,
         MethodOptions options = {});
  ~Method();

  const std::string& name() const { return name_; }
  size_t inputCount() const { return inputs_.size(); }

  // Binds inputs, runs every chain, returns copies of the outputs.
  std::vector<HostValue> run(std::vector<HostValue> inputs);

 private:
  struct Instr {
    enum class Kind : uint8_t { Kernel, Delegate, Move, JumpFalse, Free } kind;
    int32_t a = 0;  // kernel/delegate index, move_from, cond value, free value
    int32_t b = 0;  // move_to, jump destination
    std::vector<EValue*> args;
  };
  struct Chain {
    std::vector<Instr> instrs;
  };

  void allocatePlannedMemory();
  void freePlannedMemory();
  void parseValues();
  void parseTensor(size_t index, const fb::Tensor* t);
  void resolveOperators();
  void checkAvailability() const;  // BackendNotAvailable / OperatorMissing, naming all that is missing
  void initDelegates();
  void parseChains();
  EValue* valueAt(int64_t index, const char* what);
  void bindInputs(std::vector<HostValue>& inputs);
  void runChain(size_t chainIndex);
  void callKernel(const Instr& instr, size_t chainIndex, size_t pc);
  HostValue copyOut(const EValue& v, size_t outputIndex) const;
  std::string where(size_t chainIndex, size_t pc) const;

  std::shared_ptr<const Program> program_;
  const fb::ExecutionPlan* plan_;
  MethodOptions options_;
  std::string name_;
  std::vector<EValue> values_;
  std::vector<std::unique_ptr<Tensor>> tensors_;
  std::vector<void*> planned_;  // planned buffers, index = memory_id - 1
  std::vector<uint64_t> plannedSizes_;
  std::vector<std::string> opNames_;
  std::vector<KernelFn> kernels_;
  std::string missingOperators_;
  MethodScratch scratch_;  // before delegates_: they may hold parts of it
  std::vector<std::unique_ptr<DelegateHandle>> delegates_;
  std::vector<std::string> delegateIds_;
  std::vector<Chain> chains_;
  std::vector<int32_t> inputs_;
  std::vector<int32_t> outputs_;
  std::vector<bool> ownsMemory_;        // per value: tensor has planned memory (inputs are copied in)
  std::vector<HostValue> boundInputs_;  // keeps caller data alive for unplanned inputs
};

}  // namespace etn
