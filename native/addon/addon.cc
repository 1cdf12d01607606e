// Module entry: registers the program handle and a few build facts.
#include <napi.h>
#include <xnnpack.h>

#include "../runtime/backend.h"
#include "../runtime/kernel_registry.h"
#include "export_bindings.h"
#include "program_handle.h"

namespace etn::addon {

namespace {

Napi::Value KernelNames(const Napi::CallbackInfo& info) {
  auto names = registeredKernelNames();
  Napi::Array a = Napi::Array::New(info.Env(), names.size());
  for (size_t i = 0; i < names.size(); ++i) a.Set(i, names[i]);
  return a;
}

Napi::Value BackendNames(const Napi::CallbackInfo& info) {
  auto names = registeredBackendNames();
  Napi::Array a = Napi::Array::New(info.Env(), names.size());
  for (size_t i = 0; i < names.size(); ++i) a.Set(i, names[i]);
  return a;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // XNNPACK is process-wide; initialising it here proves the library links and
  // loads on this machine even before any program uses it.
  const xnn_status status = xnn_initialize(nullptr);
  exports.Set("xnnpackAvailable", Napi::Boolean::New(env, status == xnn_status_success));
  exports.Set("ProgramHandle", ProgramHandle::Init(env));
  exports.Set("loadProgram", Napi::Function::New(env, &ProgramHandle::Load, "loadProgram"));
  exports.Set("kernelNames", Napi::Function::New(env, &KernelNames, "kernelNames"));
  exports.Set("backendNames", Napi::Function::New(env, &BackendNames, "backendNames"));
  registerExportBindings(env, exports);
  return exports;
}

}  // namespace

}  // namespace etn::addon

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  return etn::addon::Init(env, exports);
}

NODE_API_MODULE(executorch_node, InitModule)
