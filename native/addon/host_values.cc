#include "host_values.h"

#include <cmath>
#include <cstring>

#include "js_errors.h"

namespace etn::addon {

namespace {
constexpr ScalarType kNamedTypes[] = {
    ScalarType::Byte, ScalarType::Char, ScalarType::Short, ScalarType::Int, ScalarType::Long,
    ScalarType::Half, ScalarType::Float, ScalarType::Double, ScalarType::Bool, ScalarType::BFloat16,
    ScalarType::UInt16, ScalarType::UInt32, ScalarType::UInt64};

const char* dynamismName(ShapeDynamism d) {
  switch (d) {
    case ShapeDynamism::Static: return "static";
    case ShapeDynamism::DynamicBound: return "dynamic_bound";
    case ShapeDynamism::DynamicUnbound: return "dynamic_unbound";
  }
  return "static";
}

Napi::Value intToJs(Napi::Env env, int64_t v) {
  constexpr int64_t kMaxSafe = (int64_t{1} << 53) - 1;
  if (v >= -kMaxSafe && v <= kMaxSafe) return Napi::Number::New(env, static_cast<double>(v));
  return Napi::BigInt::New(env, v);
}

Napi::Array sizesToJs(Napi::Env env, const std::vector<int64_t>& sizes) {
  Napi::Array a = Napi::Array::New(env, sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) a.Set(i, Napi::Number::New(env, static_cast<double>(sizes[i])));
  return a;
}
// Hands the engine's output bytes to JS without copying them on the main thread
// (a copy of a large output would stall the event loop). Runtimes that forbid
// external buffers (Electron's V8 sandbox) get a copy instead.
Napi::Value bytesToArrayBuffer(Napi::Env env, std::vector<uint8_t>&& bytes) {
  if (!bytes.empty()) {
    auto* owned = new std::vector<uint8_t>(std::move(bytes));
    napi_value result;
    const napi_status status = napi_create_external_arraybuffer(
        env, owned->data(), owned->size(),
        [](napi_env, void*, void* hint) { delete static_cast<std::vector<uint8_t>*>(hint); }, owned, &result);
    if (status == napi_ok) return Napi::Value(env, result);
    bytes = std::move(*owned);
    delete owned;
  }
  Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, bytes.size());
  if (!bytes.empty()) std::memcpy(buf.Data(), bytes.data(), bytes.size());
  return buf;
}

}  // namespace

ScalarType scalarTypeFromName(Napi::Env env, const std::string& name, size_t index) {
  for (ScalarType t : kNamedTypes)
    if (name == scalarTypeName(t)) return t;
  throw makeJsError(env, "InvalidArgument",
                    "input " + std::to_string(index) + " has unknown dtype '" + name + "'");
}

HostValue hostValueFromJs(Napi::Env env, Napi::Value v, size_t index) {
  const std::string where = "input " + std::to_string(index);
  if (!v.IsObject()) throw makeJsError(env, "InvalidArgument", where + " is not a value object");
  Napi::Object o = v.As<Napi::Object>();
  const std::string kind = o.Get("kind").ToString().Utf8Value();
  HostValue h;
  if (kind == "tensor") {
    h.tag = Tag::Tensor;
    h.dtype = scalarTypeFromName(env, o.Get("dtype").ToString().Utf8Value(), index);
    Napi::Value shapeV = o.Get("shape");
    if (!shapeV.IsArray()) throw makeJsError(env, "InvalidArgument", where + " has no shape array");
    Napi::Array shape = shapeV.As<Napi::Array>();
    for (uint32_t i = 0; i < shape.Length(); ++i) {
      const double d = shape.Get(i).ToNumber().DoubleValue();
      if (!(d >= 0) || d != std::floor(d) || d > 9.0e15)
        throw makeJsError(env, "InvalidArgument", where + " has an invalid size in its shape");
      h.sizes.push_back(static_cast<int64_t>(d));
    }
    Napi::Value data = o.Get("data");
    if (!data.IsTypedArray()) throw makeJsError(env, "InvalidArgument", where + " data is not a TypedArray");
    Napi::TypedArray ta = data.As<Napi::TypedArray>();
    const size_t n = ta.ByteLength();
    const uint8_t* src = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    h.bytes.assign(src, src + n);
    return h;
  }
  Napi::Value value = o.Get("value");
  if (kind == "int") {
    h.tag = Tag::Int;
    if (value.IsBigInt()) {
      bool lossless = true;
      h.i = value.As<Napi::BigInt>().Int64Value(&lossless);
    } else {
      h.i = static_cast<int64_t>(value.ToNumber().DoubleValue());
    }
  } else if (kind == "double") {
    h.tag = Tag::Double;
    h.d = value.ToNumber().DoubleValue();
  } else if (kind == "bool") {
    h.tag = Tag::Bool;
    h.b = value.ToBoolean().Value();
  } else if (kind == "string") {
    h.tag = Tag::String;
    h.str = value.ToString().Utf8Value();
  } else if (kind == "none") {
    h.tag = Tag::None;
  } else {
    throw makeJsError(env, "InvalidArgument", where + " has unknown kind '" + kind + "'");
  }
  return h;
}

Napi::Value hostValueToJs(Napi::Env env, HostValue&& v) {
  Napi::Object o = Napi::Object::New(env);
  switch (v.tag) {
    case Tag::Tensor: {
      o.Set("kind", "tensor");
      o.Set("dtype", scalarTypeName(v.dtype));
      o.Set("shape", sizesToJs(env, v.sizes));
      o.Set("data", bytesToArrayBuffer(env, std::move(v.bytes)));
      break;
    }
    case Tag::Int: o.Set("kind", "int"); o.Set("value", intToJs(env, v.i)); break;
    case Tag::Double: o.Set("kind", "double"); o.Set("value", Napi::Number::New(env, v.d)); break;
    case Tag::Bool: o.Set("kind", "bool"); o.Set("value", Napi::Boolean::New(env, v.b)); break;
    case Tag::String: o.Set("kind", "string"); o.Set("value", Napi::String::New(env, v.str)); break;
    default: o.Set("kind", "none"); o.Set("value", env.Null()); break;
  }
  return o;
}

Napi::Object valueMetaToJs(Napi::Env env, const ValueMeta& m) {
  Napi::Object o = Napi::Object::New(env);
  switch (m.tag) {
    case Tag::Tensor: {
      o.Set("kind", "tensor");
      o.Set("dtype", scalarTypeName(m.dtype));
      o.Set("shape", sizesToJs(env, m.sizes));
      Napi::Array order = Napi::Array::New(env, m.dimOrder.size());
      for (size_t i = 0; i < m.dimOrder.size(); ++i) order.Set(i, Napi::Number::New(env, m.dimOrder[i]));
      o.Set("dimOrder", order);
      o.Set("dynamism", dynamismName(m.dynamism));
      break;
    }
    case Tag::Int: o.Set("kind", "int"); o.Set("value", intToJs(env, m.i)); break;
    case Tag::Double: o.Set("kind", "double"); o.Set("value", Napi::Number::New(env, m.d)); break;
    case Tag::Bool: o.Set("kind", "bool"); o.Set("value", Napi::Boolean::New(env, m.b)); break;
    case Tag::String: o.Set("kind", "string"); o.Set("value", Napi::String::New(env, m.str)); break;
    case Tag::None: o.Set("kind", "none"); break;
    default: {
      std::string k = tagName(m.tag);
      o.Set("kind", k);
      break;
    }
  }
  return o;
}

Napi::Object methodMetaToJs(Napi::Env env, const MethodMeta& m) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", m.name);
  Napi::Array inputs = Napi::Array::New(env, m.inputs.size());
  for (size_t i = 0; i < m.inputs.size(); ++i) inputs.Set(i, valueMetaToJs(env, m.inputs[i]));
  o.Set("inputs", inputs);
  Napi::Array outputs = Napi::Array::New(env, m.outputs.size());
  for (size_t i = 0; i < m.outputs.size(); ++i) outputs.Set(i, valueMetaToJs(env, m.outputs[i]));
  o.Set("outputs", outputs);
  Napi::Array ops = Napi::Array::New(env, m.operators.size());
  for (size_t i = 0; i < m.operators.size(); ++i) {
    Napi::Object op = Napi::Object::New(env);
    op.Set("name", m.operators[i]);
    auto it = m.operatorCalls.find(m.operators[i]);
    op.Set("calls", Napi::Number::New(env, it == m.operatorCalls.end() ? 0 : static_cast<double>(it->second)));
    ops.Set(i, op);
  }
  o.Set("operators", ops);
  Napi::Array dels = Napi::Array::New(env, m.delegates.size());
  for (size_t i = 0; i < m.delegates.size(); ++i) {
    const DelegateMeta& d = m.delegates[i];
    Napi::Object dj = Napi::Object::New(env);
    dj.Set("id", d.id);
    dj.Set("location", d.location);
    dj.Set("index", Napi::Number::New(env, d.index));
    dj.Set("size", Napi::Number::New(env, static_cast<double>(d.size)));
    Napi::Array keys = Napi::Array::New(env, d.compileSpecKeys.size());
    for (size_t k = 0; k < d.compileSpecKeys.size(); ++k) keys.Set(k, d.compileSpecKeys[k]);
    dj.Set("compileSpecs", keys);
    if (d.hasSummary) {
      Napi::Object s = Napi::Object::New(env);
      s.Set("format", d.summary.format);
      Napi::Object counts = Napi::Object::New(env);
      for (const auto& kv : d.summary.nodeCounts)
        counts.Set(kv.first, Napi::Number::New(env, static_cast<double>(kv.second)));
      s.Set("nodeCounts", counts);
      s.Set("values", Napi::Number::New(env, static_cast<double>(d.summary.valueCount)));
      s.Set("constantBytes", Napi::Number::New(env, static_cast<double>(d.summary.constantBytes)));
      dj.Set("graph", s);
    }
    if (!d.summaryError.empty()) dj.Set("error", d.summaryError);
    dels.Set(i, dj);
  }
  o.Set("delegates", dels);
  o.Set("plannedBufferSizes", sizesToJs(env, m.plannedBufferSizes));
  o.Set("instructionCount", Napi::Number::New(env, static_cast<double>(m.instructionCount)));
  o.Set("valueCount", Napi::Number::New(env, static_cast<double>(m.valueCount)));
  return o;
}

}  // namespace etn::addon
