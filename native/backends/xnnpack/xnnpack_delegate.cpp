// XnnpackDelegate init (parse and check the payload, plan buffers, create the
// XNNPACK operators) and the errors it raises about the payload.
#include "xnnpack_delegate.h"

#include <cstdlib>
#include <string>

#include "../../runtime/error.h"

namespace etn {
namespace xnnpack {

XnnpackDelegate::XnnpackDelegate(const DelegateInitContext& ctx, pthreadpool_t pool)
    : program_(ctx.program),
      pool_(pool),
      memoryLimit_(ctx.memoryLimit),
      slots_(ctx.scratch.get<std::vector<Buffer>>("xnnpack.slots")) {
  const char* ref = std::getenv("ETN_XNNPACK_REFERENCE");
  reference_ = ref != nullptr && ref[0] == '1';
  where_ = " (method '" + ctx.methodName + "', delegate " + std::to_string(ctx.delegateIndex) + ")";
  payload_ = parseXnnpackPayload(ctx.payload);
  parseValues();
  parseNodes();
  checkDataflow();
  planSlots();
  createOperators();
}

void XnnpackDelegate::invalid(const std::string& msg) const {
  fail(ErrorCode::InvalidProgram, "XnnpackBackend: ", msg, where_);
}

void XnnpackDelegate::unsupported(const Node& n, const std::string& what) const {
  fail(ErrorCode::NotSupported, "XnnpackBackend: node ", n.index, " ", n.name, " ", what,
       " is not supported yet", where_);
}

}  // namespace xnnpack
}  // namespace etn
