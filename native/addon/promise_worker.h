// An AsyncWorker that settles a Promise: Run() happens on a libuv worker
// thread, and engine errors keep their code on the way back to JS.
#pragma once
#include <napi.h>

#include <string>

#include "js_errors.h"

namespace etn::addon {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  explicit PromiseWorker(Napi::Env env)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  virtual void Run() = 0;                          // worker thread
  virtual Napi::Value Result(Napi::Env env) = 0;   // main thread, after success

 private:
  void Execute() override {
    try {
      Run();
    } catch (const Error& e) {
      code_ = errorCodeName(e.code());
      SetError(e.what());
    } catch (const std::bad_alloc&) {
      code_ = "OutOfMemory";
      SetError("out of memory");
    } catch (const std::exception& e) {
      code_ = "Internal";
      SetError(e.what());
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    try {
      deferred_.Resolve(Result(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error& e) override {
    deferred_.Reject(makeJsError(Env(), code_, e.Message()).Value());
  }

  Napi::Promise::Deferred deferred_;
  std::string code_ = "Internal";
};

}  // namespace etn::addon
