// Elementwise bitwise and / or / xor on bool and integer tensors, with
// broadcasting (Gemma 3 exports combine attention-mask conditions this way).
#include <cstdint>
#include <vector>

#include "../kernel_util.h"

namespace etn {
namespace {

enum class BitOp { And, Or, Xor };

int64_t apply(BitOp op, int64_t a, int64_t b) {
  switch (op) {
    case BitOp::And: return a & b;
    case BitOp::Or: return a | b;
    case BitOp::Xor: return a ^ b;
  }
  return 0;
}

void requireIntegral(const KernelArgs& args, ScalarType t, const char* what) {
  if (!isIntegralType(t, true))
    args.fail(ErrorCode::InvalidArgument, what, " has dtype ", scalarTypeName(t),
              "; bitwise ops take bool or integer tensors");
}

void bitwiseTensor(KernelArgs& args, BitOp op) {
  args.expectCount(4);
  const Tensor& a = args.tensor(0);
  const Tensor& b = args.tensor(1);
  Tensor& out = args.tensor(2);
  requireIntegral(args, a.dtype(), "self");
  requireIntegral(args, b.dtype(), "other");
  requireIntegral(args, out.dtype(), "out");
  const std::vector<int64_t> shape = broadcastShapes(args, a.sizes(), b.sizes());
  args.resizeOut(out, shape);
  requireContiguous(args, out, "out");
  forEachIndex2(shape, broadcastStrides(a, shape), broadcastStrides(b, shape), [&](int64_t i, int64_t oa, int64_t ob) {
    storeInt(out.data(), out.dtype(), i, apply(op, loadInt(a.data(), a.dtype(), oa), loadInt(b.data(), b.dtype(), ob)));
  });
}

void bitwiseScalar(KernelArgs& args, BitOp op) {
  args.expectCount(4);
  const Tensor& a = args.tensor(0);
  const Scalar s = args.scalar(1);
  Tensor& out = args.tensor(2);
  requireIntegral(args, a.dtype(), "self");
  requireIntegral(args, out.dtype(), "out");
  if (s.isFloating()) args.fail(ErrorCode::InvalidArgument, "the scalar operand must be an integer or bool");
  args.resizeOut(out, a.sizes());
  requireContiguous(args, out, "out");
  forEachElement(a, [&](int64_t i, int64_t off) {
    storeInt(out.data(), out.dtype(), i, apply(op, loadInt(a.data(), a.dtype(), off), s.i));
  });
}

void and_tensor(KernelArgs& args) { bitwiseTensor(args, BitOp::And); }
void or_tensor(KernelArgs& args) { bitwiseTensor(args, BitOp::Or); }
void xor_tensor(KernelArgs& args) { bitwiseTensor(args, BitOp::Xor); }
void and_scalar(KernelArgs& args) { bitwiseScalar(args, BitOp::And); }
void or_scalar(KernelArgs& args) { bitwiseScalar(args, BitOp::Or); }
void xor_scalar(KernelArgs& args) { bitwiseScalar(args, BitOp::Xor); }

ETN_REGISTER_KERNEL("aten::bitwise_and.Tensor_out", and_tensor);
ETN_REGISTER_KERNEL("aten::bitwise_or.Tensor_out", or_tensor);
ETN_REGISTER_KERNEL("aten::bitwise_xor.Tensor_out", xor_tensor);
ETN_REGISTER_KERNEL("aten::bitwise_and.Scalar_out", and_scalar);
ETN_REGISTER_KERNEL("aten::bitwise_or.Scalar_out", or_scalar);
ETN_REGISTER_KERNEL("aten::bitwise_xor.Scalar_out", xor_scalar);

}  // namespace
}  // namespace etn
