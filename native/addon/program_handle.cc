#include "program_handle.h"

#include "../runtime/method_meta.h"
#include "host_values.h"
#include "js_errors.h"
#include "promise_worker.h"

namespace etn::addon {

namespace {

// A program source from JS: a path string or bytes.
struct Source {
  std::string path;
  std::vector<uint8_t> bytes;
  bool isPath = true;
  std::string label;
};

Source sourceFromJs(Napi::Env env, Napi::Value v, const std::string& what) {
  Source s;
  if (v.IsString()) {
    s.path = v.As<Napi::String>().Utf8Value();
    s.label = s.path;
    return s;
  }
  if (v.IsTypedArray() || v.IsArrayBuffer()) {
    const uint8_t* p;
    size_t n;
    if (v.IsArrayBuffer()) {
      Napi::ArrayBuffer ab = v.As<Napi::ArrayBuffer>();
      p = static_cast<const uint8_t*>(ab.Data());
      n = ab.ByteLength();
    } else {
      Napi::TypedArray ta = v.As<Napi::TypedArray>();
      p = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
      n = ta.ByteLength();
    }
    s.bytes.assign(p, p + n);
    s.isPath = false;
    s.label = "<" + what + " buffer>";
    return s;
  }
  throw makeJsError(env, "InvalidArgument", what + " must be a path or a Buffer/Uint8Array");
}

std::shared_ptr<DataBuffer> openSource(const Source& s) {
  return s.isPath ? DataBuffer::mapFile(s.path) : DataBuffer::copyOf(s.bytes.data(), s.bytes.size(), s.label);
}

class LoadWorker : public PromiseWorker {
 public:
  LoadWorker(Napi::Env env, Source program, std::vector<Source> dataFiles, int threads,
             MethodOptions methodOptions)
      : PromiseWorker(env), program_(std::move(program)), dataFiles_(std::move(dataFiles)),
        threads_(threads), methodOptions_(methodOptions) {}

 protected:
  void Run() override {
    std::vector<std::shared_ptr<PtdFile>> ptds;
    for (const Source& s : dataFiles_) ptds.push_back(PtdFile::parse(openSource(s)));
    // Free the JS copies early; the engine holds its own buffers now.
    dataFiles_.clear();
    state_ = std::make_shared<ProgramState>();
    state_->program = Program::load(openSource(program_), std::move(ptds));
    state_->threads = threads_;
    state_->pool = std::make_unique<ThreadPool>(threads_);
    state_->methodOptions = methodOptions_;
    state_->methodOptions.threadpool = state_->pool->get();
    program_.bytes = {};
  }
  Napi::Value Result(Napi::Env env) override { return ProgramHandle::Wrap(env, state_); }

 private:
  Source program_;
  std::vector<Source> dataFiles_;
  int threads_;
  MethodOptions methodOptions_;
  std::shared_ptr<ProgramState> state_;
};

Method& ensureMethod(ProgramState& state, MethodSlot& slot, const std::string& name) {
  if (!slot.method) {
    const fb::ExecutionPlan* plan = state.program->plan(name);
    if (plan == nullptr)
      fail(ErrorCode::NotFound, state.program->name(), ": no method named '", name, "'");
    slot.method = std::make_unique<Method>(state.program, plan, state.methodOptions);
  }
  return *slot.method;
}

class LoadMethodWorker : public PromiseWorker {
 public:
  LoadMethodWorker(Napi::Env env, std::shared_ptr<ProgramState> state, std::string name)
      : PromiseWorker(env), state_(std::move(state)), name_(std::move(name)) {}

 protected:
  void Run() override {
    auto slot = state_->slot(name_);
    std::lock_guard<std::mutex> lock(slot->mutex);
    ensureMethod(*state_, *slot, name_);
  }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }

 private:
  std::shared_ptr<ProgramState> state_;
  std::string name_;
};

class ExecuteWorker : public PromiseWorker {
 public:
  ExecuteWorker(Napi::Env env, std::shared_ptr<ProgramState> state, std::string name,
                std::vector<HostValue> inputs)
      : PromiseWorker(env), state_(std::move(state)), name_(std::move(name)), inputs_(std::move(inputs)) {}

 protected:
  void Run() override {
    auto slot = state_->slot(name_);
    std::lock_guard<std::mutex> lock(slot->mutex);
    Method& m = ensureMethod(*state_, *slot, name_);
    outputs_ = m.run(std::move(inputs_));
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Array out = Napi::Array::New(env, outputs_.size());
    for (size_t i = 0; i < outputs_.size(); ++i) out.Set(i, hostValueToJs(env, std::move(outputs_[i])));
    outputs_.clear();
    return out;
  }

 private:
  std::shared_ptr<ProgramState> state_;
  std::string name_;
  std::vector<HostValue> inputs_;
  std::vector<HostValue> outputs_;
};

}  // namespace

std::shared_ptr<MethodSlot> ProgramState::slot(const std::string& name) {
  std::lock_guard<std::mutex> lock(mutex);
  auto& s = methods[name];
  if (!s) s = std::make_shared<MethodSlot>();
  return s;
}

Napi::Function ProgramHandle::Init(Napi::Env env) {
  Napi::Function fn = DefineClass(env, "ProgramHandle",
                                  {InstanceMethod("methodNames", &ProgramHandle::MethodNames),
                                   InstanceMethod("methodMeta", &ProgramHandle::MethodMetaOf),
                                   InstanceMethod("info", &ProgramHandle::Info),
                                   InstanceMethod("loadMethod", &ProgramHandle::LoadMethod),
                                   InstanceMethod("execute", &ProgramHandle::Execute),
                                   InstanceMethod("dispose", &ProgramHandle::Dispose)});
  // Per-environment storage: worker_threads each load their own copy of the addon.
  env.SetInstanceData<Napi::FunctionReference>(new Napi::FunctionReference(Napi::Persistent(fn)));
  return fn;
}

ProgramHandle::ProgramHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProgramHandle>(info) {}

Napi::Object ProgramHandle::Wrap(Napi::Env env, std::shared_ptr<ProgramState> state) {
  Napi::Object obj = env.GetInstanceData<Napi::FunctionReference>()->New({});
  ProgramHandle::Unwrap(obj)->state_ = std::move(state);
  return obj;
}

Napi::Value ProgramHandle::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    Source program = sourceFromJs(env, info[0], "program");
    std::vector<Source> dataFiles;
    if (info.Length() > 1 && info[1].IsArray()) {
      Napi::Array arr = info[1].As<Napi::Array>();
      for (uint32_t i = 0; i < arr.Length(); ++i) dataFiles.push_back(sourceFromJs(env, arr.Get(i), "data file"));
    }
    int threads = 1;
    if (info.Length() > 2 && info[2].IsNumber()) threads = info[2].As<Napi::Number>().Int32Value();
    MethodOptions methodOptions;
    if (info.Length() > 3 && info[3].IsNumber()) {
      const double limit = info[3].As<Napi::Number>().DoubleValue();
      if (limit > 0) methodOptions.memoryLimit = static_cast<uint64_t>(limit);
    }
    auto* worker = new LoadWorker(env, std::move(program), std::move(dataFiles), threads, methodOptions);
    Napi::Promise p = worker->promise();
    worker->Queue();
    return p;
  });
}

std::shared_ptr<ProgramState> ProgramHandle::live(Napi::Env env) {
  if (!state_) throw makeJsError(env, "InvalidArgument", "the program has been disposed");
  return state_;
}

Napi::Value ProgramHandle::MethodNames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    auto names = live(env)->program->methodNames();
    Napi::Array a = Napi::Array::New(env, names.size());
    for (size_t i = 0; i < names.size(); ++i) a.Set(i, names[i]);
    return a;
  });
}

Napi::Value ProgramHandle::MethodMetaOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    const std::string name = info[0].ToString().Utf8Value();
    return methodMetaToJs(env, describeMethod(*live(env)->program, name));
  });
}

Napi::Value ProgramHandle::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    const Program& p = *live(env)->program;
    Napi::Object o = Napi::Object::New(env);
    o.Set("fileSize", Napi::Number::New(env, static_cast<double>(p.fileSize())));
    o.Set("version", Napi::Number::New(env, p.root()->version()));
    if (p.header().present) {
      Napi::Object h = Napi::Object::New(env);
      h.Set("length", Napi::Number::New(env, p.header().length));
      h.Set("programSize", Napi::Number::New(env, static_cast<double>(p.header().programSize)));
      h.Set("segmentBaseOffset", Napi::Number::New(env, static_cast<double>(p.header().segmentBaseOffset)));
      h.Set("segmentDataSize", Napi::Number::New(env, static_cast<double>(p.header().segmentDataSize)));
      o.Set("extendedHeader", h);
    } else {
      o.Set("extendedHeader", env.Null());
    }
    Napi::Array segs = Napi::Array::New(env, p.segmentCount());
    for (size_t i = 0; i < p.segmentCount(); ++i) {
      Napi::Object s = Napi::Object::New(env);
      s.Set("offset", Napi::Number::New(env, static_cast<double>(p.segmentFileOffset(i))));
      s.Set("size", Napi::Number::New(env, static_cast<double>(p.segment(i).size)));
      segs.Set(i, s);
    }
    o.Set("segments", segs);
    Napi::Array named = Napi::Array::New(env);
    uint32_t k = 0;
    for (const auto& kv : p.namedDataSegments()) {
      Napi::Object n = Napi::Object::New(env);
      n.Set("key", kv.first);
      n.Set("segment", Napi::Number::New(env, static_cast<double>(kv.second)));
      n.Set("size", Napi::Number::New(env, static_cast<double>(p.segment(kv.second).size)));
      named.Set(k++, n);
    }
    o.Set("namedData", named);
    const auto* cb = p.root()->constant_buffer();
    o.Set("legacyConstantBuffers", Napi::Number::New(env, cb ? cb->size() : 0));
    const auto* cs = p.root()->constant_segment();
    o.Set("constantSegmentEntries",
          Napi::Number::New(env, cs && cs->offsets() ? cs->offsets()->size() : 0));
    const auto* mds = p.root()->mutable_data_segments();
    o.Set("mutableDataSegments", Napi::Number::New(env, mds ? mds->size() : 0));
    Napi::Array files = Napi::Array::New(env, p.dataFiles().size());
    for (size_t i = 0; i < p.dataFiles().size(); ++i) {
      Napi::Object f = Napi::Object::New(env);
      f.Set("name", p.dataFiles()[i]->name());
      Napi::Array keys = Napi::Array::New(env);
      uint32_t j = 0;
      for (const auto& kv : p.dataFiles()[i]->entries()) keys.Set(j++, kv.first);
      f.Set("keys", keys);
      files.Set(i, f);
    }
    o.Set("dataFiles", files);
    return o;
  });
}

Napi::Value ProgramHandle::LoadMethod(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    auto* worker = new LoadMethodWorker(env, live(env), info[0].ToString().Utf8Value());
    Napi::Promise p = worker->promise();
    worker->Queue();
    return p;
  });
}

Napi::Value ProgramHandle::Execute(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    auto state = live(env);
    const std::string name = info[0].ToString().Utf8Value();
    std::vector<HostValue> inputs;
    if (info.Length() > 1 && info[1].IsArray()) {
      Napi::Array arr = info[1].As<Napi::Array>();
      for (uint32_t i = 0; i < arr.Length(); ++i) inputs.push_back(hostValueFromJs(env, arr.Get(i), i));
    }
    auto* worker = new ExecuteWorker(env, state, name, std::move(inputs));
    Napi::Promise p = worker->promise();
    worker->Queue();
    return p;
  });
}

Napi::Value ProgramHandle::Dispose(const Napi::CallbackInfo& info) {
  state_.reset();
  return info.Env().Undefined();
}

}  // namespace etn::addon
