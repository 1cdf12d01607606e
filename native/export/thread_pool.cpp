#include "thread_pool.h"

#include <memory>
#include <thread>

namespace etn::exporter {

namespace {

struct PoolDeleter {
  void operator()(pthreadpool* p) const { pthreadpool_destroy(p); }
};

}  // namespace

pthreadpool_t exportThreadPool() {
  // A function-local static: created once, thread-safely, by the first caller.
  static const std::unique_ptr<pthreadpool, PoolDeleter> pool([] {
    const unsigned cores = std::thread::hardware_concurrency();
    return cores > 1 ? pthreadpool_create(cores) : nullptr;
  }());
  return pool.get();
}

}  // namespace etn::exporter
