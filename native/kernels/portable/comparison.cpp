// Comparisons (eq/ne/lt/le/gt/ge against a tensor or a scalar), the logical
// ops and bitwise_not. Comparisons are made in PyTorch's promoted dtype; the
// 0/1 results are stored into whatever dtype the out tensor has.
#include <cmath>
#include <cstdint>
#include <vector>

#include "../kernel_util.h"

namespace etn {
namespace {

enum class Cmp { Eq, Ne, Lt, Le, Gt, Ge };

template <typename T>
bool compare(Cmp c, T x, T y) {
  switch (c) {
    case Cmp::Eq: return x == y;
    case Cmp::Ne: return x != y;
    case Cmp::Lt: return x < y;
    case Cmp::Le: return x <= y;
    case Cmp::Gt: return x > y;
    case Cmp::Ge: return x >= y;
  }
  return false;
}

void compareTensors(const KernelArgs& args, const Tensor& a, const Tensor& b, Tensor& out, Cmp c) {
  checkLoadable(args, a, "self");
  checkLoadable(args, b, "other");
  checkLoadable(args, out, "out");
  const ScalarType ct = resultType(a, b);
  const std::vector<int64_t> sizes = broadcastShapes(args, a.sizes(), b.sizes());
  args.resizeOut(out, sizes);
  const std::vector<int64_t> sa = broadcastStrides(a, sizes);
  const std::vector<int64_t> sb = broadcastStrides(b, sizes);
  const std::vector<int64_t> so = out.strides();
  if (isFloatingType(ct)) {
    forEachIndex3(sizes, sa, sb, so, [&](int64_t, int64_t oa, int64_t ob, int64_t oo) {
      const double x = roundTo(ct, loadDouble(a.data(), a.dtype(), oa));
      const double y = roundTo(ct, loadDouble(b.data(), b.dtype(), ob));
      storeInt(out.data(), out.dtype(), oo, compare(c, x, y) ? 1 : 0);
    });
  } else {
    forEachIndex3(sizes, sa, sb, so, [&](int64_t, int64_t oa, int64_t ob, int64_t oo) {
      const int64_t x = loadInt(a.data(), a.dtype(), oa);
      const int64_t y = loadInt(b.data(), b.dtype(), ob);
      storeInt(out.data(), out.dtype(), oo, compare(c, x, y) ? 1 : 0);
    });
  }
}

void compareScalar(const KernelArgs& args, const Tensor& a, const Scalar& s, Tensor& out, Cmp c) {
  checkLoadable(args, a, "self");
  checkLoadable(args, out, "out");
  const ScalarType ct = promoteWithScalar(a.dtype(), s);
  args.resizeOut(out, a.sizes());
  const std::vector<int64_t> zero(a.sizes().size(), 0);
  const std::vector<int64_t> so = out.strides();
  if (isFloatingType(ct)) {
    const double y = roundTo(ct, s.toDouble());
    forEachIndex3(a.sizes(), a.strides(), zero, so, [&](int64_t, int64_t oa, int64_t, int64_t oo) {
      const double x = roundTo(ct, loadDouble(a.data(), a.dtype(), oa));
      storeInt(out.data(), out.dtype(), oo, compare(c, x, y) ? 1 : 0);
    });
  } else {
    const int64_t y = s.isBool() ? (s.i != 0 ? 1 : 0) : s.toInt();
    forEachIndex3(a.sizes(), a.strides(), zero, so, [&](int64_t, int64_t oa, int64_t, int64_t oo) {
      const int64_t x = loadInt(a.data(), a.dtype(), oa);
      storeInt(out.data(), out.dtype(), oo, compare(c, x, y) ? 1 : 0);
    });
  }
}

template <Cmp C>
void cmp_tensor_out(KernelArgs& args) {
  // <op>.Tensor_out(Tensor self, Tensor other, *, Tensor(a!) out)
  args.expectCount(4);
  compareTensors(args, args.tensor(0), args.tensor(1), args.tensor(2), C);
}

template <Cmp C>
void cmp_scalar_out(KernelArgs& args) {
  // <op>.Scalar_out(Tensor self, Scalar other, *, Tensor(a!) out)
  args.expectCount(4);
  compareScalar(args, args.tensor(0), args.scalar(1), args.tensor(2), C);
}

// Truthiness of element `off` (NaN counts as true, like C / PyTorch).
bool truthy(const Tensor& t, int64_t off) {
  if (isFloatingType(t.dtype())) return loadDouble(t.data(), t.dtype(), off) != 0;
  return loadInt(t.data(), t.dtype(), off) != 0;
}

enum class Logic { And, Or, Xor };

template <Logic L>
void logical_binary_out(KernelArgs& args) {
  // logical_<op>.out(Tensor self, Tensor other, *, Tensor(a!) out)
  args.expectCount(4);
  const Tensor& a = args.tensor(0);
  const Tensor& b = args.tensor(1);
  Tensor& out = args.tensor(2);
  checkLoadable(args, a, "self");
  checkLoadable(args, b, "other");
  checkLoadable(args, out, "out");
  const std::vector<int64_t> sizes = broadcastShapes(args, a.sizes(), b.sizes());
  args.resizeOut(out, sizes);
  const std::vector<int64_t> sa = broadcastStrides(a, sizes);
  const std::vector<int64_t> sb = broadcastStrides(b, sizes);
  const std::vector<int64_t> so = out.strides();
  forEachIndex3(sizes, sa, sb, so, [&](int64_t, int64_t oa, int64_t ob, int64_t oo) {
    const bool x = truthy(a, oa), y = truthy(b, ob);
    bool r = false;
    switch (L) {
      case Logic::And: r = x && y; break;
      case Logic::Or: r = x || y; break;
      case Logic::Xor: r = x != y; break;
    }
    storeInt(out.data(), out.dtype(), oo, r ? 1 : 0);
  });
}

// logical_not.out(Tensor self, *, Tensor(a!) out)
void logical_not_out(KernelArgs& args) {
  args.expectCount(3);
  const Tensor& a = args.tensor(0);
  Tensor& out = args.tensor(1);
  checkLoadable(args, a, "self");
  checkLoadable(args, out, "out");
  args.resizeOut(out, a.sizes());
  forEachIndex2(a.sizes(), a.strides(), out.strides(), [&](int64_t, int64_t oa, int64_t oo) {
    storeInt(out.data(), out.dtype(), oo, truthy(a, oa) ? 0 : 1);
  });
}

// bitwise_not.out(Tensor self, *, Tensor(a!) out)
void bitwise_not_out(KernelArgs& args) {
  args.expectCount(3);
  const Tensor& a = args.tensor(0);
  Tensor& out = args.tensor(1);
  checkLoadable(args, a, "self");
  checkLoadable(args, out, "out");
  if (!isIntegralType(a.dtype(), /*includeBool=*/true))
    args.fail(ErrorCode::InvalidArgument, "bitwise_not is only defined for integer and bool tensors, got ",
              scalarTypeName(a.dtype()));
  args.resizeOut(out, a.sizes());
  const bool isBool = a.dtype() == ScalarType::Bool;
  forEachIndex2(a.sizes(), a.strides(), out.strides(), [&](int64_t, int64_t oa, int64_t oo) {
    const int64_t x = loadInt(a.data(), a.dtype(), oa);
    storeInt(out.data(), out.dtype(), oo, isBool ? (x != 0 ? 0 : 1) : ~x);
  });
}

}  // namespace

ETN_REGISTER_KERNEL("aten::eq.Tensor_out", cmp_tensor_out<Cmp::Eq>);
ETN_REGISTER_KERNEL("aten::ne.Tensor_out", cmp_tensor_out<Cmp::Ne>);
ETN_REGISTER_KERNEL("aten::lt.Tensor_out", cmp_tensor_out<Cmp::Lt>);
ETN_REGISTER_KERNEL("aten::le.Tensor_out", cmp_tensor_out<Cmp::Le>);
ETN_REGISTER_KERNEL("aten::gt.Tensor_out", cmp_tensor_out<Cmp::Gt>);
ETN_REGISTER_KERNEL("aten::ge.Tensor_out", cmp_tensor_out<Cmp::Ge>);
ETN_REGISTER_KERNEL("aten::eq.Scalar_out", cmp_scalar_out<Cmp::Eq>);
ETN_REGISTER_KERNEL("aten::ne.Scalar_out", cmp_scalar_out<Cmp::Ne>);
ETN_REGISTER_KERNEL("aten::lt.Scalar_out", cmp_scalar_out<Cmp::Lt>);
ETN_REGISTER_KERNEL("aten::le.Scalar_out", cmp_scalar_out<Cmp::Le>);
ETN_REGISTER_KERNEL("aten::gt.Scalar_out", cmp_scalar_out<Cmp::Gt>);
ETN_REGISTER_KERNEL("aten::ge.Scalar_out", cmp_scalar_out<Cmp::Ge>);
ETN_REGISTER_KERNEL("aten::logical_and.out", logical_binary_out<Logic::And>);
ETN_REGISTER_KERNEL("aten::logical_or.out", logical_binary_out<Logic::Or>);
ETN_REGISTER_KERNEL("aten::logical_xor.out", logical_binary_out<Logic::Xor>);
ETN_REGISTER_KERNEL("aten::logical_not.out", logical_not_out);
ETN_REGISTER_KERNEL("aten::bitwise_not.out", bitwise_not_out);

}  // namespace etn
