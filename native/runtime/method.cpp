#include "method.h"

#include <cstdlib>
#include <cstring>
#include <limits>
#include <sys/mman.h>
#include <unistd.h>

#include "error.h"
#include "kernel_registry.h"

namespace etn {

namespace {

// Bytes mapped for a planned buffer of `s` bytes: the slack lets kernels over-read.
size_t mappedSize(uint64_t s) { return static_cast<size_t>(s) + Tensor::kReadSlack; }

// A hostile JumpFalse loop must end: no real program comes near this.
constexpr uint64_t kMaxSteps = 10'000'000;

uint64_t physicalMemoryBytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long pageSize = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || pageSize <= 0) return std::numeric_limits<uint64_t>::max();
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(pageSize);
}

// numel * elementSize with overflow detection; returns false on overflow.
bool tensorBytes(const std::vector<int64_t>& sizes, size_t elem, uint64_t* out) {
  uint64_t n = elem;
  for (int64_t s : sizes) {
    if (s < 0) return false;
    if (s != 0 && n > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(s)) return false;
    n *= static_cast<uint64_t>(s);
  }
  *out = n;
  return true;
}

std::string operatorName(const fb::Operator* op) {
  std::string n = op->name() ? op->name()->str() : std::string();
  if (op->overload() && op->overload()->size() > 0) n += "." + op->overload()->str();
  return n;
}

}  // namespace

Method::Method(std::shared_ptr<const Program> program, const fb::ExecutionPlan* plan,
               MethodOptions options)
    : program_(std::move(program)), plan_(plan), options_(options) {
  name_ = plan->name() ? plan->name()->str() : std::string();
  try {
    allocatePlannedMemory();
    parseValues();
    resolveOperators();
    checkAvailability();
    parseChains();
    initDelegates();
  } catch (...) {
    delegates_.clear();
    freePlannedMemory();
    throw;
  }
}

Method::~Method() {
  delegates_.clear();
  freePlannedMemory();
}

void Method::freePlannedMemory() {
  for (size_t k = 0; k < planned_.size(); ++k)
    ::munmap(planned_[k], mappedSize(plannedSizes_[k]));
  planned_.clear();
}

void Method::allocatePlannedMemory() {
  const auto* sizes = plan_->non_const_buffer_sizes();
  if (sizes == nullptr) return;
  const uint64_t limit = options_.memoryLimit ? options_.memoryLimit : physicalMemoryBytes();
  uint64_t total = 0;
  // Entry 0 is a reserved placeholder; buffer k serves memory_id k.
  for (flatbuffers::uoffset_t k = 1; k < sizes->size(); ++k) {
    const int64_t s = sizes->Get(k);
    if (s < 0)
      fail(ErrorCode::InvalidProgram, program_->name(), ": method '", name_, "' planned buffer ", k,
           " has negative size ", s);
    total += static_cast<uint64_t>(s);
    if (static_cast<uint64_t>(s) > limit || total > limit)
      fail(ErrorCode::OutOfMemory, program_->name(), ": method '", name_, "' plans ", total,
           " bytes of memory, over the limit of ", limit, " bytes");
    plannedSizes_.push_back(static_cast<uint64_t>(s));
  }
  // Anonymous mappings: page aligned and zero-filled lazily, so a big plan costs
  // nothing until the program touches it. Each has Tensor::kReadSlack bytes more,
  // so kernels may over-read the last tensor of a buffer too.
  for (uint64_t s : plannedSizes_) {
    void* p = ::mmap(nullptr, mappedSize(s), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
      plannedSizes_.resize(planned_.size());
      fail(ErrorCode::OutOfMemory, program_->name(), ": method '", name_, "' cannot allocate ", s,
           " bytes of planned memory");
    }
    planned_.push_back(p);
  }
}

EValue* Method::valueAt(int64_t index, const char* what) {
  if (index < 0 || static_cast<uint64_t>(index) >= values_.size())
    fail(ErrorCode::InvalidProgram, program_->name(), ": method '", name_, "' ", what,
         " refers to value ", index, " of ", values_.size());
  return &values_[static_cast<size_t>(index)];
}

void Method::parseValues() {
  const auto* vals = plan_->values();
  const size_t n = vals ? vals->size() : 0;
  values_.resize(n);
  ownsMemory_.assign(n, false);
  tensors_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const fb::EValue* ev = vals->Get(static_cast<flatbuffers::uoffset_t>(i));
    EValue& v = values_[i];
    // The verifier accepts a union whose type is set but whose table is absent.
    if (ev->val_type() != fb::KernelTypes::NONE && ev->val() == nullptr)
      fail(ErrorCode::InvalidProgram, program_->name(), ": method '", name_, "' value ", i,
           " is a ", fb::EnumNameKernelTypes(ev->val_type()), " without data");
    switch (ev->val_type()) {
      case fb::KernelTypes::NONE:
      case fb::KernelTypes::Null:
        v.tag = Tag::None;
        break;
      case fb::KernelTypes::Int:
        v.tag = Tag::Int;
        v.i = ev->val_as_Int()->int_val();
        break;
      case fb::KernelTypes::Bool:
        v.tag = Tag::Bool;
        v.b = ev->val_as_Bool()->bool_val();
        break;
      case fb::KernelTypes::Double:
        v.tag = Tag::Double;
        v.d = ev->val_as_Double()->double_val();
        break;
      case fb::KernelTypes::String:
        v.tag = Tag::String;
        if (ev->val_as_String()->string_val()) v.str = ev->val_as_String()->string_val()->str();
        break;
      case fb::KernelTypes::Tensor:
        parseTensor(i, ev->val_as_Tensor());
        break;
      case fb::KernelTypes::IntList: {
        v.tag = Tag::IntList;
        const auto* items = ev->val_as_IntList()->items();
        if (items)
          for (int64_t idx : *items) v.items.push_back(valueAt(idx, "IntList item"));
        break;
      }
      case fb::KernelTypes::DoubleList: {
        v.tag = Tag::DoubleList;
        const auto* items = ev->val_as_DoubleList()->items();
        if (items) v.doubles.assign(items->begin(), items->end());
        break;
      }
      case fb::KernelTypes::BoolList: {
        v.tag = Tag::BoolList;
        const auto* items = ev->val_as_BoolList()->items();
        if (items)
          for (uint8_t b : *items) v.bools.push_back(b != 0);
        break;
      }
      case fb::KernelTypes::TensorList: {
        v.tag = Tag::TensorList;
        const auto* items = ev->val_as_TensorList()->items();
        if (items)
          for (int32_t idx : *items) v.items.push_back(valueAt(idx, "TensorList item"));
        break;
      }
      case fb::KernelTypes::OptionalTensorList: {
        v.tag = Tag::OptionalTensorList;
        const auto* items = ev->val_as_OptionalTensorList()->items();
        if (items)
          for (int32_t idx : *items)
            v.items.push_back(idx < 0 ? nullptr : valueAt(idx, "OptionalTensorList item"));
        break;
      }
      default:
        fail(ErrorCode::InvalidProgram, program_->name(), ": method '", name_, "' value ", i,
             " has unknown type ", static_cast<int>(ev->val_type()));
    }
  }
  // Lists must not refer to themselves or to other lists in ways kernels cannot read.
  for (size_t i = 0; i < n; ++i) {
    for (EValue* item : values_[i].items) {
      if (item == nullptr) continue;
      if (values_[i].tag == Tag::IntList && item->tag != Tag::Int && item->tag != Tag::None &&
          item->tag != Tag::Bool)
        fail(ErrorCode::InvalidProgram, program_->name(), ": method '", name_, "' IntList value ", i,
             " holds a ", tagName(item->tag));
      if (values_[i].tag != Tag::IntList && item->tag != Tag::Tensor && item->tag != Tag::None)
        fail(ErrorCode::InvalidProgram, program_->name(), ": method '", name_, "' tensor list value ",
             i, " holds a ", tagName(item->tag));
    }
  }
  const auto* ins = plan_->inputs();
  if (ins)
    for (int32_t idx : *ins) {
      valueAt(idx, "input");
      inputs_.push_back(idx);
    }
  const auto* outs = plan_->outputs();
  if (outs)
    for (int32_t idx : *outs) {
      valueAt(idx, "output");
      outputs_.push_back(idx);
    }
}

void Method::parseTensor(size_t index, const fb::Tensor* t) {
  const std::string what = "method '" + name_ + "' tensor value " + std::to_string(index);
  const std::string& file = program_->name();
  const int code = static_cast<int>(t->scalar_type());
  if (!isKnownScalarType(code))
    fail(ErrorCode::InvalidProgram, file, ": ", what, " has unknown dtype code ", code);
  const ScalarType dtype = static_cast<ScalarType>(code);
  std::vector<int64_t> sizes;
  if (t->sizes())
    for (int32_t s : *t->sizes()) {
      if (s < 0) fail(ErrorCode::InvalidProgram, file, ": ", what, " has negative size ", s);
      sizes.push_back(s);
    }
  if (sizes.size() > 16)
    fail(ErrorCode::InvalidProgram, file, ": ", what, " has ", sizes.size(), " dims (max 16)");
  std::vector<uint8_t> dimOrder;
  if (t->dim_order() && t->dim_order()->size() > 0) {
    if (t->dim_order()->size() != sizes.size())
      fail(ErrorCode::InvalidProgram, file, ": ", what, " dim_order length ",
           t->dim_order()->size(), " differs from its rank ", sizes.size());
    std::vector<bool> seen(sizes.size(), false);
    for (uint8_t d : *t->dim_order()) {
      if (d >= sizes.size() || seen[d])
        fail(ErrorCode::InvalidProgram, file, ": ", what, " dim_order is not a permutation");
      seen[d] = true;
      dimOrder.push_back(d);
    }
  }
  if (t->storage_offset() != 0)
    fail(ErrorCode::NotSupported, file, ": ", what, " has storage_offset ", t->storage_offset());
  const int dyn = static_cast<int>(t->shape_dynamism());
  if (dyn == static_cast<int>(ShapeDynamism::DynamicUnbound))
    fail(ErrorCode::NotSupported, file, ": ", what, " has unbounded dynamic shape");
  if (dyn != 0 && dyn != 1)
    fail(ErrorCode::InvalidProgram, file, ": ", what, " has unknown shape dynamism ", dyn);
  uint64_t nbytes = 0;
  if (!tensorBytes(sizes, elementSize(dtype), &nbytes))
    fail(ErrorCode::InvalidProgram, file, ": ", what, " size overflows");

  auto tensor = std::make_unique<Tensor>(dtype, sizes, dimOrder, static_cast<ShapeDynamism>(dyn));
  const fb::AllocationDetails* alloc = t->allocation_info();
  const fb::ExtraTensorInfo* extra = t->extra_tensor_info();
  void* planned = nullptr;
  if (alloc != nullptr) {
    const uint32_t id = alloc->memory_id();
    const uint64_t offset = static_cast<uint64_t>(alloc->memory_offset_low()) |
                            (static_cast<uint64_t>(alloc->memory_offset_high()) << 32);
    if (id == 0 || id > planned_.size())
      fail(ErrorCode::InvalidProgram, file, ": ", what, " uses memory_id ", id, " but the method plans ",
           planned_.size(), " buffers");
    const uint64_t bufSize = plannedSizes_[id - 1];
    if (offset > bufSize || nbytes > bufSize - offset)
      fail(ErrorCode::InvalidProgram, file, ": ", what, " (", nbytes, " bytes at offset ", offset,
           ") overruns planned buffer ", id, " (", bufSize, " bytes)");
    planned = static_cast<uint8_t*>(planned_[id - 1]) + offset;
  }

  if (extra != nullptr && extra->location() == fb::TensorDataLocation::EXTERNAL) {
    const std::string fqn = extra->fully_qualified_name() ? extra->fully_qualified_name()->str() : "";
    NamedBlob blob;
    if (!program_->findNamedData(fqn, &blob))
      fail(ErrorCode::NotFound, file, ": ", what, " is stored externally as '", fqn,
           "' but no attached data file (.ptd) has it");
    if (blob.bytes.size < nbytes)
      fail(ErrorCode::InvalidProgram, file, ": external tensor '", fqn, "' has ", blob.bytes.size,
           " bytes, the program needs ", nbytes);
    if (blob.hasLayout && (blob.dtype != dtype || blob.sizes != sizes))
      fail(ErrorCode::InvalidProgram, file, ": external tensor '", fqn, "' is ",
           scalarTypeName(blob.dtype), formatSizes(blob.sizes), " in the data file, the program expects ",
           scalarTypeName(dtype), formatSizes(sizes));
    if (planned) {
      std::memcpy(planned, blob.bytes.data, static_cast<size_t>(nbytes));
      tensor->setData(planned);
    } else {
      tensor->setData(const_cast<uint8_t*>(blob.bytes.data));
    }
  } else if (t->data_buffer_idx() > 0 && planned == nullptr) {
    const ByteSpan span = program_->constantData(t->data_buffer_idx(), static_cast<size_t>(nbytes), what);
    tensor->setData(const_cast<uint8_t*>(span.data));
  } else if (planned != nullptr) {
    if (t->data_buffer_idx() > 0) {
      const uint64_t segIdx = extra ? extra->mutable_data_segments_idx() : 0;
      const ByteSpan init =
          program_->mutableData(segIdx, t->data_buffer_idx(), static_cast<size_t>(nbytes), what);
      std::memcpy(planned, init.data, static_cast<size_t>(nbytes));
    }
    tensor->setData(planned);
  }
  ownsMemory_[index] = planned != nullptr;
  tensor->setOverreadable(planned != nullptr);
  // else: no memory of its own; an input binds it, or a view kernel points it elsewhere.
  values_[index].tag = Tag::Tensor;
  values_[index].tensor = tensor.get();
  tensors_.push_back(std::move(tensor));
}

void Method::resolveOperators() {
  const auto* ops = plan_->operators();
  if (ops == nullptr) return;
  std::string missing;
  for (const fb::Operator* op : *ops) {
    const std::string name = operatorName(op);
    KernelFn fn = findKernel(name);
    if (fn == nullptr && op->name() && (!op->overload() || op->overload()->size() == 0))
      fn = findKernel(name + ".default");
    if (fn == nullptr) {
      const std::string shown = name.empty() ? std::string("<unnamed operator>") : name;
      bool listed = false;
      for (size_t k = 0; k < opNames_.size(); ++k) listed = listed || (opNames_[k] == name && !kernels_[k]);
      if (!listed) missing += (missing.empty() ? "" : ", ") + shown;
    }
    opNames_.push_back(name);
    kernels_.push_back(fn);
  }
  missingOperators_ = missing;
}

void Method::checkAvailability() const {
  // Both lists in one message: a program for an accelerator usually misses its
  // backend and its vendor operators together. The backend decides the code.
  std::string backends;
  if (const auto* dels = plan_->delegates())
    for (const fb::BackendDelegate* d : *dels) {
      const std::string id = d->id() ? d->id()->str() : std::string();
      if (findBackend(id) == nullptr && backends.find("'" + id + "'") == std::string::npos)
        backends += (backends.empty() ? "'" : ", '") + id + "'";
    }
  const std::string ops = missingOperators_.empty()
                              ? std::string()
                              : "operators this build does not have: " + missingOperators_;
  if (!backends.empty()) {
    std::string available;
    for (const std::string& n : registeredBackendNames()) available += (available.empty() ? "" : ", ") + n;
    fail(ErrorCode::BackendNotAvailable, program_->name(), ": method '", name_, "' delegates to backend ",
         backends, ", which this build does not have (available: ", available.empty() ? "none" : available, ")",
         ops.empty() ? "" : "; it also needs ", ops);
  }
  if (!ops.empty()) fail(ErrorCode::OperatorMissing, program_->name(), ": method '", name_, "' needs ", ops);
}

void Method::initDelegates() {
  const auto* dels = plan_->delegates();
  if (dels == nullptr) return;
  for (flatbuffers::uoffset_t i = 0; i < dels->size(); ++i) {
    const fb::BackendDelegate* d = dels->Get(i);
    const std::string id = d->id() ? d->id()->str() : std::string();
    delegateIds_.push_back(id);
    Backend* backend = findBackend(id);  // checkAvailability() ran first
    DelegateInitContext ctx{*program_,
                            name_,
                            i,
                            program_->delegatePayload(d->processed(), "delegate " + std::to_string(i)),
                            {},
                            options_.threadpool,
                            options_.memoryLimit,
                            scratch_};
    if (d->compile_specs())
      for (const fb::CompileSpec* cs : *d->compile_specs()) {
        CompileSpec spec;
        if (cs->key()) spec.key = cs->key()->str();
        if (cs->value()) spec.value.assign(cs->value()->begin(), cs->value()->end());
        ctx.compileSpecs.push_back(std::move(spec));
      }
    try {
      delegates_.push_back(backend->init(ctx));
    } catch (const Error& e) {
      throw Error(e.code(), program_->name() + ": method '" + name_ + "' delegate " + std::to_string(i) +
                                " (" + id + "): " + e.what());
    }
  }
}

void Method::parseChains() {
  const auto* chains = plan_->chains();
  if (chains == nullptr) return;
  for (const fb::Chain* c : *chains) {
    Chain chain;
    const auto* instrs = c->instructions();
    const int64_t count = instrs ? instrs->size() : 0;
    for (int64_t pc = 0; pc < count; ++pc) {
      const fb::Instruction* in = instrs->Get(static_cast<flatbuffers::uoffset_t>(pc));
      if (in->instr_args() == nullptr)
        fail(ErrorCode::InvalidProgram, program_->name(), ": method '", name_, "' instruction ", pc,
             " has no arguments table");
      Instr ins{};
      switch (in->instr_args_type()) {
        case fb::InstructionArguments::KernelCall: {
          const fb::KernelCall* k = in->instr_args_as_KernelCall();
          ins.kind = Instr::Kind::Kernel;
          ins.a = k->op_index();
          if (ins.a < 0 || static_cast<size_t>(ins.a) >= kernels_.size())
            fail(ErrorCode::InvalidProgram, program_->name(), ": method '", name_, "' instruction ",
                 pc, " calls operator ", ins.a, " of ", kernels_.size());
          if (k->args())
            for (int32_t idx : *k->args()) ins.args.push_back(valueAt(idx, "kernel argument"));
          break;
        }
        case fb::InstructionArguments::DelegateCall: {
          const fb::DelegateCall* dc = in->instr_args_as_DelegateCall();
          ins.kind = Instr::Kind::Delegate;
          ins.a = dc->delegate_index();
          const size_t nd = plan_->delegates() ? plan_->delegates()->size() : 0;
          if (ins.a < 0 || static_cast<size_t>(ins.a) >= nd)
            fail(ErrorCode::InvalidProgram, program_->name(), ": method '", name_, "' instruction ",
                 pc, " calls delegate ", ins.a, " of ", nd);
          if (dc->args())
            for (int32_t idx : *dc->args()) ins.args.push_back(valueAt(idx, "delegate argument"));
          break;
        }
        case fb::InstructionArguments::MoveCall: {
          const fb::MoveCall* m = in->instr_args_as_MoveCall();
          ins.kind = Instr::Kind::Move;
          ins.a = m->move_from();
          ins.b = m->move_to();
          valueAt(ins.a, "move source");
          valueAt(ins.b, "move target");
          break;
        }
        case fb::InstructionArguments::JumpFalseCall: {
          const fb::JumpFalseCall* j = in->instr_args_as_JumpFalseCall();
          ins.kind = Instr::Kind::JumpFalse;
          ins.a = j->cond_value_index();
          ins.b = j->destination_instruction();
          valueAt(ins.a, "jump condition");
          if (ins.b < 0 || ins.b > count)
            fail(ErrorCode::InvalidProgram, program_->name(), ": method '", name_, "' instruction ",
                 pc, " jumps to ", ins.b, " outside its chain of ", count);
          break;
        }
        case fb::InstructionArguments::FreeCall: {
          ins.kind = Instr::Kind::Free;
          ins.a = in->instr_args_as_FreeCall()->value_index();
          valueAt(ins.a, "free");
          break;
        }
        default:
          fail(ErrorCode::InvalidProgram, program_->name(), ": method '", name_, "' instruction ", pc,
               " has unknown kind ", static_cast<int>(in->instr_args_type()));
      }
      chain.instrs.push_back(std::move(ins));
    }
    chains_.push_back(std::move(chain));
  }
}

std::string Method::where(size_t chainIndex, size_t pc) const {
  std::string s = program_->name() + ": method '" + name_ + "'";
  if (chains_.size() > 1) s += " chain " + std::to_string(chainIndex);
  s += " instruction " + std::to_string(pc);
  return s;
}

void Method::bindInputs(std::vector<HostValue>& inputs) {
  if (inputs.size() != inputs_.size())
    fail(ErrorCode::InvalidArgument, "method '", name_, "' takes ", inputs_.size(), " inputs, got ",
         inputs.size());
  for (size_t k = 0; k < inputs.size(); ++k) {
    EValue& slot = values_[static_cast<size_t>(inputs_[k])];
    HostValue& in = inputs[k];
    if (slot.tag == Tag::Tensor) {
      Tensor& t = *slot.tensor;
      if (in.tag != Tag::Tensor)
        fail(ErrorCode::InvalidArgument, "method '", name_, "' input ", k, " must be a tensor ",
             t.describe(), ", got ", tagName(in.tag));
      if (in.dtype != t.dtype())
        fail(ErrorCode::InvalidArgument, "method '", name_, "' input ", k, " must have dtype ",
             scalarTypeName(t.dtype()), ", got ", scalarTypeName(in.dtype));
      if (in.sizes.size() != t.sizes().size())
        fail(ErrorCode::InvalidArgument, "method '", name_, "' input ", k, " must have rank ",
             t.sizes().size(), " (", t.describe(), "), got shape ", formatSizes(in.sizes));
      if (t.dynamism() == ShapeDynamism::Static && in.sizes != t.sizes())
        fail(ErrorCode::InvalidArgument, "method '", name_, "' input ", k, " must have shape ",
             formatSizes(t.sizes()), ", got ", formatSizes(in.sizes));
      const std::string what = "method '" + name_ + "' input " + std::to_string(k);
      t.resize(in.sizes, what.c_str());
      if (in.bytes.size() != t.nbytes())
        fail(ErrorCode::InvalidArgument, what, " has ", in.bytes.size(), " bytes of data, shape ",
             formatSizes(in.sizes), " needs ", t.nbytes());
      if (!t.isContiguous())
        fail(ErrorCode::NotSupported, what, " uses a non-default dim order");
      if (ownsMemory_[static_cast<size_t>(inputs_[k])]) {
        if (!in.bytes.empty()) std::memcpy(t.data(), in.bytes.data(), in.bytes.size());
      } else {
        t.setData(in.bytes.data());
      }
      continue;
    }
    // Non-tensor inputs are baked into the program; the caller must pass the same value.
    bool same = false;
    switch (slot.tag) {
      case Tag::Int: same = in.tag == Tag::Int && in.i == slot.i; break;
      case Tag::Double:
        same = (in.tag == Tag::Double && in.d == slot.d) || (in.tag == Tag::Int && double(in.i) == slot.d);
        break;
      case Tag::Bool: same = in.tag == Tag::Bool && in.b == slot.b; break;
      case Tag::String: same = in.tag == Tag::String && in.str == slot.str; break;
      case Tag::None: same = in.tag == Tag::None; break;
      default: break;
    }
    if (!same)
      fail(ErrorCode::InvalidArgument, "method '", name_, "' input ", k, " is a ", tagName(slot.tag),
           " fixed at export time; pass the exported value");
  }
  // Planned inputs were copied; unplanned ones point into these buffers until the next run.
  boundInputs_ = std::move(inputs);
}

void Method::callKernel(const Instr& instr, size_t chainIndex, size_t pc) {
  const std::string& op = opNames_[static_cast<size_t>(instr.a)];
  for (size_t k = 0; k < instr.args.size(); ++k) {
    const EValue* v = instr.args[k];
    if (v->tag == Tag::Tensor && v->tensor->data() == nullptr && v->tensor->boundNumel() > 0 &&
        op != "executorch_prim::et_view.default" && op != "executorch_prim::et_view")
      fail(ErrorCode::InvalidProgram, where(chainIndex, pc), " (", op, "): argument ", k,
           " is a tensor with no memory (not planned, constant or an input)");
  }
  KernelArgs args(op, const_cast<EValue**>(instr.args.data()), instr.args.size(), options_.threadpool);
  try {
    kernels_[static_cast<size_t>(instr.a)](args);
  } catch (const Error& e) {
    throw Error(e.code(), where(chainIndex, pc) + " (" + op + "): " + e.what());
  } catch (const std::bad_alloc&) {
    fail(ErrorCode::OutOfMemory, where(chainIndex, pc), " (", op, "): out of memory");
  }
}

void Method::runChain(size_t chainIndex) {
  const Chain& chain = chains_[chainIndex];
  uint64_t steps = 0;
  size_t pc = 0;
  while (pc < chain.instrs.size()) {
    if (++steps > kMaxSteps)
      fail(ErrorCode::InvalidProgram, where(chainIndex, pc), ": more than ", kMaxSteps,
           " steps; the program loops");
    const Instr& ins = chain.instrs[pc];
    switch (ins.kind) {
      case Instr::Kind::Kernel:
        callKernel(ins, chainIndex, pc);
        ++pc;
        break;
      case Instr::Kind::Delegate: {
        const size_t d = static_cast<size_t>(ins.a);
        try {
          delegates_[d]->execute(const_cast<EValue**>(ins.args.data()), ins.args.size());
        } catch (const Error& e) {
          throw Error(e.code(), where(chainIndex, pc) + " (delegate " + std::to_string(d) + ", " +
                                    delegateIds_[d] + "): " + e.what());
        }
        ++pc;
        break;
      }
      case Instr::Kind::Move:
        values_[static_cast<size_t>(ins.b)] = values_[static_cast<size_t>(ins.a)];
        ++pc;
        break;
      case Instr::Kind::JumpFalse: {
        const EValue& c = values_[static_cast<size_t>(ins.a)];
        bool cond;
        if (c.tag == Tag::Bool) {
          cond = c.b;
        } else if (c.tag == Tag::Tensor && c.tensor->numel() == 1 && c.tensor->data() &&
                   c.tensor->dtype() == ScalarType::Bool) {
          cond = *static_cast<const uint8_t*>(c.tensor->data()) != 0;
        } else {
          fail(ErrorCode::InvalidProgram, where(chainIndex, pc), ": jump condition is a ",
               tagName(c.tag), ", not a Bool");
        }
        pc = cond ? pc + 1 : static_cast<size_t>(ins.b);
        break;
      }
      case Instr::Kind::Free:
        // Memory here is planned ahead of time; there is nothing to release.
        ++pc;
        break;
    }
  }
}

HostValue Method::copyOut(const EValue& v, size_t outputIndex) const {
  HostValue out;
  out.tag = v.tag;
  switch (v.tag) {
    case Tag::Int: out.i = v.i; break;
    case Tag::Double: out.d = v.d; break;
    case Tag::Bool: out.b = v.b; break;
    case Tag::String: out.str = v.str; break;
    case Tag::None: break;
    case Tag::Tensor: {
      const Tensor& t = *v.tensor;
      out.dtype = t.dtype();
      out.sizes = t.sizes();
      const size_t n = t.nbytes();
      if (n > 0 && t.data() == nullptr)
        fail(ErrorCode::InvalidProgram, program_->name(), ": method '", name_, "' output ",
             outputIndex, " was never written (tensor without memory)");
      out.bytes.resize(n);
      if (n == 0) break;
      if (t.isContiguous()) {
        std::memcpy(out.bytes.data(), t.data(), n);
      } else {
        // Gather into row-major order for the caller.
        const size_t es = t.elementSize();
        const size_t rank = t.sizes().size();
        std::vector<int64_t> idx(rank, 0);
        for (int64_t lin = 0; lin < t.numel(); ++lin) {
          int64_t off = 0;
          for (size_t d = 0; d < rank; ++d) off += idx[d] * t.strides()[d];
          std::memcpy(out.bytes.data() + lin * es, static_cast<const uint8_t*>(t.data()) + off * es, es);
          for (size_t d = rank; d-- > 0;) {
            if (++idx[d] < t.sizes()[d]) break;
            idx[d] = 0;
          }
        }
      }
      break;
    }
    default:
      fail(ErrorCode::NotSupported, program_->name(), ": method '", name_, "' output ", outputIndex,
           " is a ", tagName(v.tag), ", which cannot be returned");
  }
  return out;
}

std::vector<HostValue> Method::run(std::vector<HostValue> inputs) {
  bindInputs(inputs);
  for (size_t c = 0; c < chains_.size(); ++c) runChain(c);
  std::vector<HostValue> outs;
  outs.reserve(outputs_.size());
  for (size_t k = 0; k < outputs_.size(); ++k)
    outs.push_back(copyOut(values_[static_cast<size_t>(outputs_[k])], k));
  return outs;
}

}  // namespace etn
