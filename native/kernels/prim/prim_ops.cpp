// ExecuTorch prim ops: symbolic-int arithmetic on EValues (results are written
// into the last argument), tensor size queries, and the two view ops that
// alias memory instead of copying (et_view, et_select) plus et_copy_index.
//
// Arithmetic follows Python: // and % floor toward -inf, / is true division,
// division by zero is an error, ints wrap on overflow instead of being UB.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "../kernel_util.h"

namespace etn {
namespace {

// ---------------------------------------------------------------------------
// Number helpers

struct Num {
  bool isInt = true;
  int64_t i = 0;
  double d = 0;
  double asDouble() const { return isInt ? static_cast<double>(i) : d; }
};

Num num(const KernelArgs& args, size_t k) {
  const EValue& v = args.at(k);
  Num n;
  switch (v.tag) {
    case Tag::Int: n.i = v.i; break;
    case Tag::Bool: n.i = v.b ? 1 : 0; break;
    case Tag::Double: n.isInt = false; n.d = v.d; break;
    default:
      args.fail(ErrorCode::InvalidProgram, "argument ", k, " is ", tagName(v.tag),
                ", expected Int or Double");
  }
  return n;
}

EValue& outValue(const KernelArgs& args) { return args.at(args.size() - 1); }

void setInt(EValue& e, int64_t v) {
  e.tag = Tag::Int;
  e.i = v;
}
void setDouble(EValue& e, double v) {
  e.tag = Tag::Double;
  e.d = v;
}
void setBool(EValue& e, bool v) {
  e.tag = Tag::Bool;
  e.b = v;
}
// Two's-complement wrapping arithmetic (no signed-overflow UB).
int64_t wrapAdd(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}
int64_t wrapSub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
int64_t wrapMul(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
}

int64_t pyFloorDiv(const KernelArgs& args, int64_t a, int64_t b) {
  if (b == 0) args.fail(ErrorCode::InvalidArgument, "integer division by zero");
  if (a == std::numeric_limits<int64_t>::min() && b == -1)
    args.fail(ErrorCode::InvalidArgument, "integer division overflows int64");
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t pyMod(const KernelArgs& args, int64_t a, int64_t b) {
  if (b == 0) args.fail(ErrorCode::InvalidArgument, "integer modulo by zero");
  if (b == -1) return 0;
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

// CPython's float divmod.
void pyDivmod(const KernelArgs& args, double a, double b, double& floordiv, double& mod) {
  if (b == 0) args.fail(ErrorCode::InvalidArgument, "float division by zero");
  mod = std::fmod(a, b);
  double div = (a - mod) / b;
  if (mod != 0) {
    if ((b < 0) != (mod < 0)) {
      mod += b;
      div -= 1.0;
    }
  } else {
    mod = std::copysign(0.0, b);
  }
  if (div != 0) {
    floordiv = std::floor(div);
    if (div - floordiv > 0.5) floordiv += 1.0;
  } else {
    floordiv = std::copysign(0.0, a / b);
  }
}

int64_t doubleToInt(const KernelArgs& args, double v) {
  if (!std::isfinite(v))
    args.fail(ErrorCode::InvalidArgument, "cannot convert ", v, " to an integer");
  if (v < -9223372036854775808.0 || v >= 9223372036854775808.0)
    args.fail(ErrorCode::InvalidArgument, v, " does not fit in int64");
  return static_cast<int64_t>(v);
}

// ---------------------------------------------------------------------------
// Binary scalar ops: (a, b, out)

void add_scalar(KernelArgs& args) {
  args.expectCount(3);
  const Num a = num(args, 0), b = num(args, 1);
  if (a.isInt && b.isInt)
    setInt(outValue(args), wrapAdd(a.i, b.i));
  else
    setDouble(outValue(args), a.asDouble() + b.asDouble());
}

void sub_scalar(KernelArgs& args) {
  args.expectCount(3);
  const Num a = num(args, 0), b = num(args, 1);
  if (a.isInt && b.isInt)
    setInt(outValue(args), wrapSub(a.i, b.i));
  else
    setDouble(outValue(args), a.asDouble() - b.asDouble());
}

void mul_scalar(KernelArgs& args) {
  args.expectCount(3);
  const Num a = num(args, 0), b = num(args, 1);
  if (a.isInt && b.isInt)
    setInt(outValue(args), wrapMul(a.i, b.i));
  else
    setDouble(outValue(args), a.asDouble() * b.asDouble());
}

void floordiv_scalar(KernelArgs& args) {
  args.expectCount(3);
  const Num a = num(args, 0), b = num(args, 1);
  if (a.isInt && b.isInt) {
    setInt(outValue(args), pyFloorDiv(args, a.i, b.i));
  } else {
    double q, r;
    pyDivmod(args, a.asDouble(), b.asDouble(), q, r);
    setDouble(outValue(args), q);
  }
}

void truediv_scalar(KernelArgs& args) {
  args.expectCount(3);
  const Num a = num(args, 0), b = num(args, 1);
  if (b.asDouble() == 0) args.fail(ErrorCode::InvalidArgument, "division by zero");
  setDouble(outValue(args), a.asDouble() / b.asDouble());
}

void mod_scalar(KernelArgs& args) {
  args.expectCount(3);
  const Num a = num(args, 0), b = num(args, 1);
  if (a.isInt && b.isInt) {
    setInt(outValue(args), pyMod(args, a.i, b.i));
  } else {
    double q, r;
    pyDivmod(args, a.asDouble(), b.asDouble(), q, r);
    setDouble(outValue(args), r);
  }
}

int64_t intArg(const KernelArgs& args, size_t k) {
  const EValue& v = args.at(k);
  if (v.tag != Tag::Int)
    args.fail(ErrorCode::InvalidProgram, "argument ", k, " is ", tagName(v.tag), ", expected Int");
  return v.i;
}

void floordiv_int(KernelArgs& args) {
  args.expectCount(3);
  const int64_t a = intArg(args, 0), b = intArg(args, 1);
  setInt(outValue(args), pyFloorDiv(args, a, b));
}

void mod_int(KernelArgs& args) {
  args.expectCount(3);
  const int64_t a = intArg(args, 0), b = intArg(args, 1);
  setInt(outValue(args), pyMod(args, a, b));
}

void sym_max(KernelArgs& args) {
  args.expectCount(3);
  const Num a = num(args, 0), b = num(args, 1);
  if (a.isInt && b.isInt)
    setInt(outValue(args), a.i > b.i ? a.i : b.i);
  else
    setDouble(outValue(args), std::fmax(a.asDouble(), b.asDouble()));
}

void sym_min(KernelArgs& args) {
  args.expectCount(3);
  const Num a = num(args, 0), b = num(args, 1);
  if (a.isInt && b.isInt)
    setInt(outValue(args), a.i < b.i ? a.i : b.i);
  else
    setDouble(outValue(args), std::fmin(a.asDouble(), b.asDouble()));
}

enum class Cmp { Eq, Gt, Lt, Ge, Le };

template <Cmp C>
void compare_scalar(KernelArgs& args) {
  args.expectCount(3);
  const Num a = num(args, 0), b = num(args, 1);
  bool r;
  if (a.isInt && b.isInt) {
    switch (C) {
      case Cmp::Eq: r = a.i == b.i; break;
      case Cmp::Gt: r = a.i > b.i; break;
      case Cmp::Lt: r = a.i < b.i; break;
      case Cmp::Ge: r = a.i >= b.i; break;
      default: r = a.i <= b.i; break;
    }
  } else {
    const double x = a.asDouble(), y = b.asDouble();
    switch (C) {
      case Cmp::Eq: r = x == y; break;
      case Cmp::Gt: r = x > y; break;
      case Cmp::Lt: r = x < y; break;
      case Cmp::Ge: r = x >= y; break;
      default: r = x <= y; break;
    }
  }
  setBool(outValue(args), r);
}

// ---------------------------------------------------------------------------
// Unary scalar ops: (a, out)

void neg_scalar(KernelArgs& args) {
  args.expectCount(2);
  const Num a = num(args, 0);
  if (a.isInt)
    setInt(outValue(args), wrapSub(0, a.i));
  else
    setDouble(outValue(args), -a.d);
}

void ceil_scalar(KernelArgs& args) {
  args.expectCount(2);
  const Num a = num(args, 0);
  setInt(outValue(args), a.isInt ? a.i : doubleToInt(args, std::ceil(a.d)));
}

void trunc_scalar(KernelArgs& args) {
  args.expectCount(2);
  const Num a = num(args, 0);
  setInt(outValue(args), a.isInt ? a.i : doubleToInt(args, std::trunc(a.d)));
}

// Python round(): half to even.
void round_scalar(KernelArgs& args) {
  args.expectCount(2);
  const Num a = num(args, 0);
  if (a.isInt) {
    setInt(outValue(args), a.i);
    return;
  }
  if (!std::isfinite(a.d)) args.fail(ErrorCode::InvalidArgument, "cannot round ", a.d);
  const double fl = std::floor(a.d);
  const double diff = a.d - fl;
  double r;
  if (diff > 0.5)
    r = fl + 1;
  else if (diff < 0.5)
    r = fl;
  else
    r = std::fmod(fl, 2.0) == 0 ? fl : fl + 1;
  setInt(outValue(args), doubleToInt(args, r));
}

void sym_float(KernelArgs& args) {
  args.expectCount(2);
  setDouble(outValue(args), num(args, 0).asDouble());
}

void sym_int(KernelArgs& args) {
  args.expectCount(2);
  const Num a = num(args, 0);
  setInt(outValue(args), a.isInt ? a.i : doubleToInt(args, std::trunc(a.d)));
}

void sym_not(KernelArgs& args) {
  args.expectCount(2);
  const bool a = args.toBool(0);
  setBool(outValue(args), !a);
}

// ---------------------------------------------------------------------------
// Tensor queries

// aten::sym_size.int(Tensor self, int dim) -> SymInt
void sym_size_int(KernelArgs& args) {
  args.expectCount(3);
  const Tensor& self = args.tensor(0);
  if (self.dim() == 0) args.fail(ErrorCode::InvalidArgument, "a 0-dim tensor has no sizes");
  const int64_t dim = normalizeDim(args, args.toInt(1), self.dim());
  setInt(outValue(args), self.size(dim));
}

// aten::sym_stride.int(Tensor self, int dim) -> SymInt
void sym_stride_int(KernelArgs& args) {
  args.expectCount(3);
  const Tensor& self = args.tensor(0);
  if (self.dim() == 0) args.fail(ErrorCode::InvalidArgument, "a 0-dim tensor has no strides");
  const int64_t dim = normalizeDim(args, args.toInt(1), self.dim());
  setInt(outValue(args), self.strides()[static_cast<size_t>(dim)]);
}

// aten::sym_numel(Tensor self) -> SymInt
void sym_numel(KernelArgs& args) {
  args.expectCount(2);
  setInt(outValue(args), args.tensor(0).numel());
}

// aten::_local_scalar_dense(Tensor self) -> Scalar
void local_scalar_dense(KernelArgs& args) {
  args.expectCount(2);
  const Tensor& self = args.tensor(0);
  if (self.numel() != 1)
    args.fail(ErrorCode::InvalidArgument, "expects a tensor with one element, got ",
              self.describe());
  if (self.data() == nullptr)
    args.fail(ErrorCode::Internal, "input ", self.describe(), " has no data buffer");
  checkLoadable(args, self, "input");
  const ScalarType t = self.dtype();
  EValue& out = outValue(args);
  if (t == ScalarType::Bool)
    setBool(out, loadInt(self.data(), t, 0) != 0);
  else if (isFloatingType(t))
    setDouble(out, loadDouble(self.data(), t, 0));
  else
    setInt(out, loadInt(self.data(), t, 0));
}

// ---------------------------------------------------------------------------
// View / copy prim ops

// executorch_prim::et_view.default(Tensor self, int[] size) -> Tensor
// Program args: self, size, out. out aliases self's memory with the new sizes.
void et_view(KernelArgs& args) {
  args.expectCount(3);
  Tensor& self = args.tensor(0);
  std::vector<int64_t> size = args.intList(1);
  Tensor& out = args.tensor(2);
  requireSameDtype(args, self, out, "input and output");
  int64_t inferred = -1, known = 1;
  for (size_t i = 0; i < size.size(); ++i) {
    if (size[i] == -1) {
      if (inferred >= 0) args.fail(ErrorCode::InvalidArgument, "only one dimension can be -1");
      inferred = static_cast<int64_t>(i);
    } else if (size[i] < 0) {
      args.fail(ErrorCode::InvalidArgument, "invalid size ", size[i], " in ", formatSizes(size));
    } else {
      if (size[i] > 0 && known > std::numeric_limits<int64_t>::max() / size[i])
        args.fail(ErrorCode::InvalidArgument, "shape ", formatSizes(size), " is too large");
      known *= size[i];
    }
  }
  if (inferred >= 0) {
    if (known == 0 || self.numel() % known != 0)
      args.fail(ErrorCode::InvalidArgument, "shape ", formatSizes(size), " is invalid for input ",
                self.describe());
    size[static_cast<size_t>(inferred)] = self.numel() / known;
  } else if (known != self.numel()) {
    args.fail(ErrorCode::InvalidArgument, "shape ", formatSizes(size), " is invalid for input ",
              self.describe());
  }
  if (static_cast<size_t>(out.dim()) != size.size())
    args.fail(ErrorCode::InvalidArgument, "output ", out.describe(), " should have rank ",
              size.size());
  if (self.numel() > 1 && (!self.isContiguous() || !out.isContiguous()))
    args.fail(ErrorCode::NotSupported, "a view needs default dim orders (input ", self.describe(),
              ", output ", out.describe(), ")");
  args.resizeOut(out, size);
  out.setData(self.data());
}

// executorch_prim::et_select.default(Tensor self, int dim, int index) -> Tensor
// Program args: self, dim, index, out. out aliases self's memory at the selected slice.
void et_select(KernelArgs& args) {
  args.expectCount(4);
  Tensor& self = args.tensor(0);
  Tensor& out = args.tensor(3);
  requireSameDtype(args, self, out, "input and output");
  if (self.dim() == 0) args.fail(ErrorCode::InvalidArgument, "cannot select from a 0-dim tensor");
  const int64_t dim = normalizeDim(args, args.toInt(1), self.dim());
  const int64_t size = self.size(dim);
  int64_t index = args.toInt(2);
  if (index < -size || index >= size)
    args.fail(ErrorCode::InvalidArgument, "index ", index, " out of range for dim ", dim,
              " of size ", size);
  if (index < 0) index += size;
  std::vector<int64_t> sizes;
  int64_t outer = 1;
  for (int64_t d = 0; d < self.dim(); ++d) {
    if (d == dim) continue;
    sizes.push_back(self.size(d));
    if (d < dim) outer *= self.size(d);
  }
  if (static_cast<size_t>(out.dim()) != sizes.size())
    args.fail(ErrorCode::InvalidArgument, "output ", out.describe(), " should have rank ",
              sizes.size());
  // The slice is one contiguous block only when nothing outside it interleaves.
  if (!self.isContiguous() || !out.isContiguous() || (outer > 1 && size > 1))
    args.fail(ErrorCode::NotSupported, "selecting index ", index, " of dim ", dim, " from ",
              self.describe(), " is not expressible as a view");
  args.resizeOut(out, sizes);
  if (self.data() == nullptr && self.numel() > 0)
    args.fail(ErrorCode::Internal, "input ", self.describe(), " has no data buffer");
  char* base = static_cast<char*>(self.data());
  out.setData(base == nullptr ? nullptr
                              : base + index * self.strides()[static_cast<size_t>(dim)] *
                                           static_cast<int64_t>(self.elementSize()));
}

// executorch_prim::et_copy_index.tensor(Tensor copy_to, Tensor copy_from, int index)
// Writes copy_from into copy_to[index], growing copy_to's leading dim to index + 1.
void et_copy_index(KernelArgs& args) {
  if (args.size() != 3 && args.size() != 4) args.expectCount(3);
  Tensor& to = args.tensor(0);
  Tensor& from = args.tensor(1);
  const int64_t index = args.toInt(2);
  requireSameDtype(args, to, from, "copy_to and copy_from");
  if (to.dim() != from.dim() + 1)
    args.fail(ErrorCode::InvalidArgument, "copy_to ", to.describe(),
              " must have one more dim than copy_from ", from.describe());
  if (index < 0) args.fail(ErrorCode::InvalidArgument, "negative index ", index);
  if (!to.isContiguous())
    args.fail(ErrorCode::NotSupported, "copy_to ", to.describe(), " uses a non-default dim order");
  bool trailingMatch = true;
  for (int64_t d = 0; d < from.dim(); ++d)
    if (to.size(d + 1) != from.size(d)) trailingMatch = false;
  if (!trailingMatch && index > 0)
    args.fail(ErrorCode::InvalidArgument, "copy_from ", from.describe(),
              " does not match the rows of copy_to ", to.describe());
  // The leading dim becomes index + 1 (rows written so far); a static tensor
  // keeps its sizes as long as the row fits.
  std::vector<int64_t> sizes;
  sizes.push_back(index + 1);
  for (int64_t s : from.sizes()) sizes.push_back(s);
  if (to.sizes() != sizes) {
    if (to.dynamism() == ShapeDynamism::Static) {
      if (!trailingMatch || to.size(0) < index + 1)
        args.fail(ErrorCode::InvalidArgument, "index ", index, " does not fit static copy_to ",
                  to.describe());
    } else {
      args.resizeOut(to, sizes);
    }
  }
  const int64_t slice = from.numel();
  if ((index + 1) * slice > to.numel())
    args.fail(ErrorCode::InvalidArgument, "index ", index, " is out of range for ",
              to.describe());
  if (slice == 0) return;
  if (to.data() == nullptr || from.data() == nullptr)
    args.fail(ErrorCode::Internal, "copy_to or copy_from has no data buffer");
  const int64_t es = static_cast<int64_t>(to.elementSize());
  char* dst = static_cast<char*>(to.data()) + index * slice * es;
  const char* src = static_cast<const char*>(from.data());
  if (from.isContiguous()) {
    std::memmove(dst, src, static_cast<size_t>(slice * es));
    return;
  }
  forEachElement(from, [&](int64_t lin, int64_t off) {
    std::memcpy(dst + lin * es, src + off * es, static_cast<size_t>(es));
  });
}

ETN_REGISTER_KERNEL("executorch_prim::add.Scalar", add_scalar);
ETN_REGISTER_KERNEL("executorch_prim::sub.Scalar", sub_scalar);
ETN_REGISTER_KERNEL("executorch_prim::mul.Scalar", mul_scalar);
ETN_REGISTER_KERNEL("executorch_prim::floordiv.Scalar", floordiv_scalar);
ETN_REGISTER_KERNEL("executorch_prim::truediv.Scalar", truediv_scalar);
ETN_REGISTER_KERNEL("executorch_prim::mod.Scalar", mod_scalar);
ETN_REGISTER_KERNEL("executorch_prim::floordiv.int", floordiv_int);
ETN_REGISTER_KERNEL("executorch_prim::mod.int", mod_int);
ETN_REGISTER_KERNEL("executorch_prim::sym_max.Scalar", sym_max);
ETN_REGISTER_KERNEL("executorch_prim::sym_min.Scalar", sym_min);
ETN_REGISTER_KERNEL("executorch_prim::eq.Scalar", compare_scalar<Cmp::Eq>);
ETN_REGISTER_KERNEL("executorch_prim::gt.Scalar", compare_scalar<Cmp::Gt>);
ETN_REGISTER_KERNEL("executorch_prim::lt.Scalar", compare_scalar<Cmp::Lt>);
ETN_REGISTER_KERNEL("executorch_prim::ge.Scalar", compare_scalar<Cmp::Ge>);
ETN_REGISTER_KERNEL("executorch_prim::le.Scalar", compare_scalar<Cmp::Le>);
ETN_REGISTER_KERNEL("executorch_prim::neg.Scalar", neg_scalar);
ETN_REGISTER_KERNEL("executorch_prim::ceil.Scalar", ceil_scalar);
ETN_REGISTER_KERNEL("executorch_prim::round.Scalar", round_scalar);
ETN_REGISTER_KERNEL("executorch_prim::trunc.Scalar", trunc_scalar);
ETN_REGISTER_KERNEL("executorch_prim::sym_float.Scalar", sym_float);
ETN_REGISTER_KERNEL("executorch_prim::sym_int.Scalar", sym_int);
ETN_REGISTER_KERNEL("executorch_prim::sym_not.Scalar", sym_not);
ETN_REGISTER_KERNEL("aten::sym_size.int", sym_size_int);
ETN_REGISTER_KERNEL("aten::sym_stride.int", sym_stride_int);
ETN_REGISTER_KERNEL("aten::sym_numel", sym_numel);
ETN_REGISTER_KERNEL("aten::_local_scalar_dense", local_scalar_dense);
ETN_REGISTER_KERNEL("executorch_prim::et_view.default", et_view);
ETN_REGISTER_KERNEL("executorch_prim::et_select.default", et_select);
ETN_REGISTER_KERNEL("executorch_prim::et_copy_index.tensor", et_copy_index);

}  // namespace
}  // namespace etn
