// Delegate backends: a program hands a subgraph (an opaque payload) to a
// backend by id ("XnnpackBackend"); the backend compiles it once per method
// and runs it for each DelegateCall.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <pthreadpool.h>

#include "data_buffer.h"
#include "evalue.h"

namespace etn {

class Program;

struct CompileSpec {
  std::string key;
  std::vector<uint8_t> value;
};

// State the delegates of one method share. They run one at a time, so scratch
// memory shared through here is sized for the largest delegate, not their sum.
class MethodScratch {
 public:
  // The object stored under `key`, made (default-constructed) on first use.
  template <class T>
  std::shared_ptr<T> get(const std::string& key) {
    std::shared_ptr<void>& p = items_[key];
    if (!p) p = std::make_shared<T>();
    return std::static_pointer_cast<T>(p);
  }

 private:
  std::map<std::string, std::shared_ptr<void>> items_;
};

struct DelegateInitContext {
  const Program& program;          // named data, for weights stored outside the payload
  const std::string& methodName;
  size_t delegateIndex;
  ByteSpan payload;
  std::vector<CompileSpec> compileSpecs;
  pthreadpool_t threadpool;  // the program's pool (Program.load's `threads`); null = caller's thread only
  uint64_t memoryLimit;      // bytes a delegate may allocate for its own buffers; 0 = no limit of ours
  MethodScratch& scratch;    // shared with the method's other delegates
};

class DelegateHandle {
 public:
  virtual ~DelegateHandle() = default;
  // args = the DelegateCall's values: inputs, then outputs.
  virtual void execute(EValue** args, size_t count) = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::unique_ptr<DelegateHandle> init(const DelegateInitContext& ctx) = 0;
};

bool registerBackend(const std::string& id, Backend* backend);
// Describes a payload for inspection (e.g. XNNPACK node counts by type) without
// running it; throws InvalidProgram when the payload is malformed.
struct DelegateSummary {
  std::string format;                       // e.g. "XNNPACK XN01"
  std::map<std::string, size_t> nodeCounts; // node type -> count
  size_t valueCount = 0;
  size_t constantBytes = 0;
};
using DelegateInspector = DelegateSummary (*)(ByteSpan payload);
bool registerDelegateInspector(const std::string& id, DelegateInspector fn);
DelegateInspector findDelegateInspector(const std::string& id);
Backend* findBackend(const std::string& id);
std::vector<std::string> registeredBackendNames();

}  // namespace etn
