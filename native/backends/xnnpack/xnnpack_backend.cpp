// XnnpackBackend: the backend registered under that name; it initializes
// XNNPACK once and makes an XnnpackDelegate (xnnpack_delegate.h) per delegate.
// See README.md in this directory for the design and the node list.
#include <xnnpack.h>

#include <memory>
#include <mutex>
#include <new>

#include "../../runtime/backend.h"
#include "../../runtime/error.h"
#include "xnnpack_delegate.h"

namespace etn {
namespace {

class XnnpackBackend final : public Backend {
 public:
  std::unique_ptr<DelegateHandle> init(const DelegateInitContext& ctx) override {
    std::call_once(once_, [this] { status_ = xnn_initialize(nullptr); });
    if (status_ != xnn_status_success)
      fail(ErrorCode::BackendNotAvailable, "XnnpackBackend: XNNPACK failed to initialize (status ",
           static_cast<int>(status_), "); this CPU may be unsupported");
    try {
      return std::make_unique<xnnpack::XnnpackDelegate>(ctx, ctx.threadpool);
    } catch (const std::bad_alloc&) {
      fail(ErrorCode::OutOfMemory, "XnnpackBackend: out of memory while preparing method '", ctx.methodName,
           "' delegate ", ctx.delegateIndex);
    }
  }

 private:
  std::once_flag once_;
  xnn_status status_ = xnn_status_uninitialized;
};

XnnpackBackend& backendInstance() {
  static XnnpackBackend* backend = new XnnpackBackend();  // never destroyed: handles may outlive static teardown
  return *backend;
}

const bool kBackendRegistered = registerBackend("XnnpackBackend", &backendInstance());

}  // namespace
}  // namespace etn
