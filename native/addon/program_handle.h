// The JS-facing handle of a loaded program. Loading and every execution run on
// libuv worker threads; methods are built on first use and cached.
#pragma once
#include <napi.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "../runtime/method.h"
#include "../runtime/program.h"

namespace etn::addon {

struct MethodSlot {
  std::mutex mutex;  // one run of a method at a time
  std::unique_ptr<Method> method;
};

// Shared with workers, so dispose() on the main thread never frees memory a
// running worker still uses: the last owner frees it.
// Owns a pthreadpool; declared first in ProgramState so it is destroyed last,
// after every method and delegate that uses it.
class ThreadPool {
 public:
  explicit ThreadPool(int threads) : pool_(threads > 1 ? pthreadpool_create(static_cast<size_t>(threads)) : nullptr) {}
  ~ThreadPool() {
    if (pool_) pthreadpool_destroy(pool_);
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  pthreadpool_t get() const { return pool_; }

 private:
  pthreadpool_t pool_;  // null for one thread: work runs on the calling worker thread
};

struct ProgramState {
  std::unique_ptr<ThreadPool> pool;
  std::shared_ptr<const Program> program;
  std::mutex mutex;
  std::map<std::string, std::shared_ptr<MethodSlot>> methods;
  int threads = 1;
  MethodOptions methodOptions;

  std::shared_ptr<MethodSlot> slot(const std::string& name);
};

class ProgramHandle : public Napi::ObjectWrap<ProgramHandle> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::Value Load(const Napi::CallbackInfo& info);  // load(source, dataFiles, threads) -> Promise
  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<ProgramState> state);

  explicit ProgramHandle(const Napi::CallbackInfo& info);

 private:
  Napi::Value MethodNames(const Napi::CallbackInfo& info);
  Napi::Value MethodMetaOf(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value LoadMethod(const Napi::CallbackInfo& info);
  Napi::Value Execute(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);

  std::shared_ptr<ProgramState> live(Napi::Env env);

  std::shared_ptr<ProgramState> state_;
};

}  // namespace etn::addon
