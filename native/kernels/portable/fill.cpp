// Constant-filled outputs: full, full_like, zeros, ones, scalar_tensor and
// fill. The value is converted to the out dtype once (floats to integers
// truncate, anything to bool is != 0) and replicated over every element.
#include <cstdint>
#include <cstring>
#include <vector>

#include "../kernel_util.h"

namespace etn {
namespace {

// Every element of out (whatever its dim order: the buffer is dense) = value.
void fillWith(const KernelArgs& args, Tensor& out, const Scalar& value) {
  checkLoadable(args, out, "out");
  const int64_t n = out.numel();
  if (n == 0) return;
  switch (value.kind) {
    case Scalar::Kind::Double: storeDouble(out.data(), out.dtype(), 0, value.d); break;
    case Scalar::Kind::Bool: storeInt(out.data(), out.dtype(), 0, value.i != 0 ? 1 : 0); break;
    case Scalar::Kind::Int: storeInt(out.data(), out.dtype(), 0, value.i); break;
  }
  const size_t es = out.elementSize();
  char* p = static_cast<char*>(out.data());
  for (int64_t i = 1; i < n; ++i) std::memcpy(p + static_cast<size_t>(i) * es, p, es);
}

Scalar intScalar(int64_t v) {
  Scalar s;
  s.kind = Scalar::Kind::Int;
  s.i = v;
  s.d = static_cast<double>(v);
  return s;
}

// full_like.out(Tensor self, Scalar fill_value, *, MemoryFormat? memory_format=None, Tensor(a!) out)
void full_like_out(KernelArgs& args) {
  args.expectCount(5);
  const Tensor& self = args.tensor(0);
  const Scalar v = args.scalar(1);
  (void)args.at(2);  // memory_format: the out tensor's dim order already encodes it
  Tensor& out = args.tensor(3);
  args.resizeOut(out, self.sizes());
  fillWith(args, out, v);
}

// full.out(SymInt[] size, Scalar fill_value, *, Tensor(a!) out)
void full_out(KernelArgs& args) {
  args.expectCount(4);
  const std::vector<int64_t> size = args.intList(0);
  const Scalar v = args.scalar(1);
  Tensor& out = args.tensor(2);
  args.resizeOut(out, size);
  fillWith(args, out, v);
}

// zeros.out / ones.out(SymInt[] size, *, Tensor(a!) out)
void zeros_out(KernelArgs& args) {
  args.expectCount(3);
  const std::vector<int64_t> size = args.intList(0);
  Tensor& out = args.tensor(1);
  args.resizeOut(out, size);
  fillWith(args, out, intScalar(0));
}

void ones_out(KernelArgs& args) {
  args.expectCount(3);
  const std::vector<int64_t> size = args.intList(0);
  Tensor& out = args.tensor(1);
  args.resizeOut(out, size);
  fillWith(args, out, intScalar(1));
}

// scalar_tensor.out(Scalar s, *, Tensor(a!) out)
void scalar_tensor_out(KernelArgs& args) {
  args.expectCount(3);
  const Scalar v = args.scalar(0);
  Tensor& out = args.tensor(1);
  args.resizeOut(out, {});
  fillWith(args, out, v);
}

// fill.Scalar_out(Tensor self, Scalar value, *, Tensor(a!) out)
void fill_scalar_out(KernelArgs& args) {
  args.expectCount(4);
  const Tensor& self = args.tensor(0);
  const Scalar v = args.scalar(1);
  Tensor& out = args.tensor(2);
  args.resizeOut(out, self.sizes());
  fillWith(args, out, v);
}

// fill.Tensor_out(Tensor self, Tensor value, *, Tensor(a!) out); value must be 0-dim.
void fill_tensor_out(KernelArgs& args) {
  args.expectCount(4);
  const Tensor& self = args.tensor(0);
  const Tensor& value = args.tensor(1);
  Tensor& out = args.tensor(2);
  if (value.dim() != 0)
    args.fail(ErrorCode::InvalidArgument, "value must be a 0-dim tensor, got ", value.describe());
  checkLoadable(args, value, "value");
  Scalar v;
  if (isFloatingType(value.dtype())) {
    v.kind = Scalar::Kind::Double;
    v.d = loadDouble(value.data(), value.dtype(), 0);
  } else if (value.dtype() == ScalarType::Bool) {
    v.kind = Scalar::Kind::Bool;
    v.i = loadInt(value.data(), value.dtype(), 0) != 0 ? 1 : 0;
    v.d = static_cast<double>(v.i);
  } else {
    v = intScalar(loadInt(value.data(), value.dtype(), 0));
  }
  args.resizeOut(out, self.sizes());
  fillWith(args, out, v);
}

}  // namespace

ETN_REGISTER_KERNEL("aten::full_like.out", full_like_out);
ETN_REGISTER_KERNEL("aten::full.out", full_out);
ETN_REGISTER_KERNEL("aten::zeros.out", zeros_out);
ETN_REGISTER_KERNEL("aten::ones.out", ones_out);
ETN_REGISTER_KERNEL("aten::scalar_tensor.out", scalar_tensor_out);
ETN_REGISTER_KERNEL("aten::fill.Scalar_out", fill_scalar_out);
ETN_REGISTER_KERNEL("aten::fill.Tensor_out", fill_tensor_out);

}  // namespace etn
