// Copy-like ops: clone, alias_copy, detach_copy, lift_fresh_copy, _to_copy,
// the dim_order_ops copies and copy.out. Every copy walks logical indices
// through both tensors' strides, so source and destination may use different
// dim orders and the result is element-exact; dtype changes go through the
// kernel_util load/store helpers (int->int stays in int64, no double round trip).
#include <cstring>
#include <optional>
#include <vector>

#include "../kernel_util.h"

namespace etn {
namespace {

void requireData(const KernelArgs& args, const Tensor& t, const char* what) {
  if (t.numel() > 0 && t.data() == nullptr)
    args.fail(ErrorCode::Internal, what, " ", t.describe(), " has no data buffer");
}

// One element from src[so] (dtype st) to dst[doff] (dtype dt).
inline void convertOne(const void* src, ScalarType st, int64_t so, void* dst, ScalarType dt,
                       int64_t doff) {
  if (st == dt) {
    const size_t es = elementSize(st);
    std::memcpy(static_cast<char*>(dst) + doff * static_cast<int64_t>(es),
                static_cast<const char*>(src) + so * static_cast<int64_t>(es), es);
  } else if (isIntegralType(st, true) && isIntegralType(dt, true)) {
    storeInt(dst, dt, doff, loadInt(src, st, so));
  } else {
    storeDouble(dst, dt, doff, loadDouble(src, st, so));
  }
}

// Copies `src` into `dst` element by element in logical order, reading src
// through `srcStrides` (one per dst dim; 0 on broadcast dims).
void stridedConvertCopy(const KernelArgs& args, const Tensor& src,
                        const std::vector<int64_t>& srcStrides, Tensor& dst) {
  if (src.dtype() != dst.dtype()) {
    checkLoadable(args, src, "input");
    checkLoadable(args, dst, "output");
  }
  requireData(args, src, "input");
  requireData(args, dst, "output");
  if (dst.numel() == 0) return;
  const ScalarType st = src.dtype(), dt = dst.dtype();
  if (st == dt && srcStrides == dst.strides() && src.numel() == dst.numel()) {
    if (src.data() != dst.data()) std::memmove(dst.data(), src.data(), dst.nbytes());
    return;
  }
  const void* s = src.data();
  void* d = dst.data();
  forEachIndex2(dst.sizes(), srcStrides, dst.strides(),
                [&](int64_t, int64_t so, int64_t doff) { convertOne(s, st, so, d, dt, doff); });
}

// out <- self with out's dtype and dim order; out is resized to self's sizes.
void copyInto(const KernelArgs& args, const Tensor& self, Tensor& out, bool sameDtype) {
  if (sameDtype) requireSameDtype(args, self, out, "input and output");
  if (out.dim() != self.dim())
    args.fail(ErrorCode::InvalidArgument, "output rank ", out.dim(), " differs from input ",
              self.describe());
  args.resizeOut(out, self.sizes());
  stridedConvertCopy(args, self, self.strides(), out);
}

void checkMemoryFormat(const KernelArgs& args, size_t i) {
  const EValue& v = args.at(i);
  if (v.tag == Tag::None) return;
  if (v.tag != Tag::Int)
    args.fail(ErrorCode::InvalidProgram, "memory_format argument is ", tagName(v.tag));
  // 0 = contiguous_format, 1 = preserve_format; channels_last (2, 3) would
  // need the out tensor's dim order to say so, which it does in ExecuTorch
  // programs, so the out tensor's dim order is what we honour.
  if (v.i < 0 || v.i > 3)
    args.fail(ErrorCode::InvalidArgument, "unknown memory_format ", v.i);
}

void checkDimOrderArg(const KernelArgs& args, size_t i, const Tensor& out) {
  std::optional<std::vector<int64_t>> order = args.optIntList(i);
  if (!order) {
    if (!out.isContiguous())
      args.fail(ErrorCode::InvalidArgument,
                "dim_order is None (contiguous) but the output uses a non-default dim order");
    return;
  }
  if (order->size() != out.dimOrder().size())
    args.fail(ErrorCode::InvalidArgument, "dim_order has ", order->size(),
              " entries, output has rank ", out.dim());
  for (size_t k = 0; k < order->size(); ++k)
    if ((*order)[k] != static_cast<int64_t>(out.dimOrder()[k]))
      args.fail(ErrorCode::InvalidArgument, "dim_order ", formatSizes(*order),
                " does not match the output tensor's dim order");
}

// aten::clone.out(Tensor self, *, MemoryFormat? memory_format=None, Tensor(a!) out)
void clone_out(KernelArgs& args) {
  args.expectCount(4);
  Tensor& self = args.tensor(0);
  checkMemoryFormat(args, 1);
  Tensor& out = args.tensor(2);
  copyInto(args, self, out, true);
}

// aten::alias_copy.out / detach_copy.out / lift_fresh_copy.out (Tensor self, *, Tensor(a!) out)
void alias_copy_out(KernelArgs& args) {
  args.expectCount(3);
  Tensor& self = args.tensor(0);
  Tensor& out = args.tensor(1);
  copyInto(args, self, out, true);
}

// aten::_to_copy.out(Tensor self, *, bool non_blocking=False, MemoryFormat? memory_format=None,
//                    Tensor(a!) out)
void to_copy_out(KernelArgs& args) {
  args.expectCount(5);
  Tensor& self = args.tensor(0);
  (void)args.toBool(1);
  checkMemoryFormat(args, 2);
  Tensor& out = args.tensor(3);
  copyInto(args, self, out, false);
}

// dim_order_ops::_to_dim_order_copy.out(Tensor self, *, bool non_blocking=False,
//                                       int[]? dim_order=None, Tensor(a!) out)
void to_dim_order_copy_out(KernelArgs& args) {
  args.expectCount(5);
  Tensor& self = args.tensor(0);
  (void)args.toBool(1);
  Tensor& out = args.tensor(3);
  checkDimOrderArg(args, 2, out);
  copyInto(args, self, out, false);
}

// dim_order_ops::_clone_dim_order.out(Tensor self, *, bool non_blocking=False,
//                                     int[]? dim_order=None, Tensor(a!) out)
void clone_dim_order_out(KernelArgs& args) {
  args.expectCount(5);
  Tensor& self = args.tensor(0);
  (void)args.toBool(1);
  Tensor& out = args.tensor(3);
  checkDimOrderArg(args, 2, out);
  copyInto(args, self, out, true);
}

// aten::copy.out(Tensor self, Tensor src, bool non_blocking=False, *, Tensor(a!) out)
// The result has self's shape and dtype, with src's values broadcast to it.
void copy_out(KernelArgs& args) {
  args.expectCount(5);
  Tensor& self = args.tensor(0);
  Tensor& src = args.tensor(1);
  (void)args.toBool(2);
  Tensor& out = args.tensor(3);
  requireSameDtype(args, self, out, "self and output");
  const std::vector<int64_t> b = broadcastShapes(args, self.sizes(), src.sizes());
  if (b != self.sizes())
    args.fail(ErrorCode::InvalidArgument, "src ", src.describe(), " cannot be broadcast to self ",
              self.describe());
  if (out.dim() != self.dim())
    args.fail(ErrorCode::InvalidArgument, "output rank ", out.dim(), " differs from self ",
              self.describe());
  args.resizeOut(out, self.sizes());
  stridedConvertCopy(args, src, broadcastStrides(src, out.sizes()), out);
}

// aten::copy_(Tensor(a!) self, Tensor src, bool non_blocking=False) -> Tensor(a!)
// In place (programs write mutable buffers this way): args self, src, non_blocking, self.
void copy_inplace(KernelArgs& args) {
  args.expectCount(4);
  Tensor& self = args.tensor(0);
  Tensor& src = args.tensor(1);
  (void)args.toBool(2);
  if (&args.tensor(3) != &self) args.fail(ErrorCode::InvalidProgram, "the returned tensor is not self");
  if (broadcastShapes(args, self.sizes(), src.sizes()) != self.sizes())
    args.fail(ErrorCode::InvalidArgument, "src ", src.describe(), " cannot be broadcast to self ",
              self.describe());
  stridedConvertCopy(args, src, broadcastStrides(src, self.sizes()), self);
}

ETN_REGISTER_KERNEL("aten::clone.out", clone_out);
ETN_REGISTER_KERNEL("aten::copy_", copy_inplace);
ETN_REGISTER_KERNEL("aten::alias_copy.out", alias_copy_out);
ETN_REGISTER_KERNEL("aten::detach_copy.out", alias_copy_out);
ETN_REGISTER_KERNEL("aten::lift_fresh_copy.out", alias_copy_out);
ETN_REGISTER_KERNEL("aten::_to_copy.out", to_copy_out);
ETN_REGISTER_KERNEL("dim_order_ops::_to_dim_order_copy.out", to_dim_order_copy_out);
ETN_REGISTER_KERNEL("dim_order_ops::_clone_dim_order.out", clone_dim_order_out);
ETN_REGISTER_KERNEL("aten::copy.out", copy_out);

}  // namespace
}  // namespace etn
