// Conversions between JS values and HostValue (tensors and scalars).
//   tensor: { kind: 'tensor', dtype: 'float32', shape: number[], data: TypedArray }
//   scalar: { kind: 'int' | 'double' | 'bool' | 'string' | 'none', value }
#pragma once
#include <napi.h>

#include <vector>

#include "../runtime/method.h"
#include "../runtime/method_meta.h"

namespace etn::addon {

HostValue hostValueFromJs(Napi::Env env, Napi::Value v, size_t index);
Napi::Value hostValueToJs(Napi::Env env, HostValue&& v);  // takes the tensor bytes
Napi::Object valueMetaToJs(Napi::Env env, const ValueMeta& m);
Napi::Object methodMetaToJs(Napi::Env env, const MethodMeta& m);
ScalarType scalarTypeFromName(Napi::Env env, const std::string& name, size_t index);

}  // namespace etn::addon
