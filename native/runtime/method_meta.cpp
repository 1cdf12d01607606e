#include "method_meta.h"

#include "error.h"

namespace etn {

namespace {

ValueMeta describeValue(const Program& program, const fb::ExecutionPlan* plan, int32_t index,
                        const std::string& method) {
  const auto* vals = plan->values();
  if (vals == nullptr || index < 0 || static_cast<uint32_t>(index) >= vals->size())
    fail(ErrorCode::InvalidProgram, program.name(), ": method '", method, "' refers to value ", index,
         " out of range");
  const fb::EValue* ev = vals->Get(static_cast<flatbuffers::uoffset_t>(index));
  ValueMeta m;
  if (ev->val_type() != fb::KernelTypes::NONE && ev->val() == nullptr)
    fail(ErrorCode::InvalidProgram, program.name(), ": method '", method, "' value ", index,
         " is a ", fb::EnumNameKernelTypes(ev->val_type()), " without data");
  switch (ev->val_type()) {
    case fb::KernelTypes::Int: m.tag = Tag::Int; m.i = ev->val_as_Int()->int_val(); break;
    case fb::KernelTypes::Bool: m.tag = Tag::Bool; m.b = ev->val_as_Bool()->bool_val(); break;
    case fb::KernelTypes::Double: m.tag = Tag::Double; m.d = ev->val_as_Double()->double_val(); break;
    case fb::KernelTypes::String:
      m.tag = Tag::String;
      if (ev->val_as_String()->string_val()) m.str = ev->val_as_String()->string_val()->str();
      break;
    case fb::KernelTypes::Tensor: {
      const fb::Tensor* t = ev->val_as_Tensor();
      m.tag = Tag::Tensor;
      const int code = static_cast<int>(t->scalar_type());
      if (!isKnownScalarType(code))
        fail(ErrorCode::InvalidProgram, program.name(), ": method '", method, "' value ", index,
             " has unknown dtype code ", code);
      m.dtype = static_cast<ScalarType>(code);
      if (t->sizes()) for (int32_t s : *t->sizes()) m.sizes.push_back(s);
      if (t->dim_order()) for (uint8_t d : *t->dim_order()) m.dimOrder.push_back(d);
      m.dynamism = static_cast<ShapeDynamism>(static_cast<int>(t->shape_dynamism()) & 3);
      break;
    }
    case fb::KernelTypes::IntList: m.tag = Tag::IntList; break;
    case fb::KernelTypes::DoubleList: m.tag = Tag::DoubleList; break;
    case fb::KernelTypes::BoolList: m.tag = Tag::BoolList; break;
    case fb::KernelTypes::TensorList: m.tag = Tag::TensorList; break;
    case fb::KernelTypes::OptionalTensorList: m.tag = Tag::OptionalTensorList; break;
    default: m.tag = Tag::None; break;
  }
  return m;
}

std::string fullName(const fb::Operator* op) {
  std::string n = op->name() ? op->name()->str() : std::string();
  if (op->overload() && op->overload()->size() > 0) n += "." + op->overload()->str();
  return n;
}

}  // namespace

MethodMeta describeMethod(const Program& program, const std::string& method) {
  const fb::ExecutionPlan* plan = program.plan(method);
  if (plan == nullptr) fail(ErrorCode::NotFound, program.name(), ": no method named '", method, "'");
  MethodMeta meta;
  meta.name = method;
  meta.valueCount = plan->values() ? plan->values()->size() : 0;
  if (plan->inputs())
    for (int32_t idx : *plan->inputs()) meta.inputs.push_back(describeValue(program, plan, idx, method));
  if (plan->outputs())
    for (int32_t idx : *plan->outputs()) meta.outputs.push_back(describeValue(program, plan, idx, method));
  std::vector<std::string> opNames;
  if (plan->operators())
    for (const fb::Operator* op : *plan->operators()) {
      opNames.push_back(fullName(op));
      bool seen = false;
      for (const auto& n : meta.operators) seen = seen || n == opNames.back();
      if (!seen) meta.operators.push_back(opNames.back());
    }
  if (plan->chains())
    for (const fb::Chain* c : *plan->chains()) {
      if (c->instructions() == nullptr) continue;
      for (const fb::Instruction* in : *c->instructions()) {
        ++meta.instructionCount;
        if (in->instr_args_type() != fb::InstructionArguments::KernelCall || in->instr_args() == nullptr)
          continue;
        const int32_t op = in->instr_args_as_KernelCall()->op_index();
        if (op >= 0 && static_cast<size_t>(op) < opNames.size()) ++meta.operatorCalls[opNames[op]];
      }
    }
  if (plan->non_const_buffer_sizes()) {
    const auto* s = plan->non_const_buffer_sizes();
    for (flatbuffers::uoffset_t k = 1; k < s->size(); ++k) meta.plannedBufferSizes.push_back(s->Get(k));
  }
  if (plan->delegates())
    for (flatbuffers::uoffset_t i = 0; i < plan->delegates()->size(); ++i) {
      const fb::BackendDelegate* d = plan->delegates()->Get(i);
      DelegateMeta dm;
      dm.id = d->id() ? d->id()->str() : std::string();
      if (d->processed()) {
        dm.location = d->processed()->location() == fb::DataLocation::INLINE ? "inline" : "segment";
        dm.index = d->processed()->index();
      }
      if (d->compile_specs())
        for (const fb::CompileSpec* cs : *d->compile_specs())
          dm.compileSpecKeys.push_back(cs->key() ? cs->key()->str() : std::string());
      try {
        const ByteSpan payload = program.delegatePayload(d->processed(), "delegate " + std::to_string(i));
        dm.size = payload.size;
        if (DelegateInspector inspect = findDelegateInspector(dm.id)) {
          dm.summary = inspect(payload);
          dm.hasSummary = true;
        }
      } catch (const Error& e) {
        dm.summaryError = e.what();
      }
      meta.delegates.push_back(std::move(dm));
    }
  return meta;
}

}  // namespace etn
