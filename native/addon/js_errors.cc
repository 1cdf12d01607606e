#include "js_errors.h"

namespace etn::addon {

Napi::Error makeJsError(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Value().Set("code", Napi::String::New(env, code));
  return err;
}

}  // namespace etn::addon
