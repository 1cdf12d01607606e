// Engine errors become JS Error objects carrying a stable `code`; lib/runtime
// turns those into ExecuTorchError instances.
#pragma once
#include <napi.h>

#include <string>

#include "../runtime/error.h"

namespace etn::addon {

Napi::Error makeJsError(Napi::Env env, const std::string& code, const std::string& message);

// Runs fn, converting engine errors (and std::exceptions) to JS exceptions.
template <typename F>
auto guard(Napi::Env env, F&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Error& e) {
    throw makeJsError(env, errorCodeName(e.code()), e.what());
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw makeJsError(env, "OutOfMemory", "out of memory");
  } catch (const std::exception& e) {
    throw makeJsError(env, "Internal", e.what());
  }
}

}  // namespace etn::addon
