// where(condition, self, other): elementwise select with the three inputs
// broadcast together; the selected values are converted to PyTorch's result
// dtype of (self, other) and then to the out dtype.
#include <cstdint>
#include <vector>

#include "../kernel_util.h"

namespace etn {
namespace {

// Calls fn(offsets) for every element of `sizes` in row-major order, where
// offsets[k] is the element offset into operand k given its strides.
template <typename F>
void forEachOffsets(const std::vector<int64_t>& sizes,
                    const std::vector<std::vector<int64_t>>& strides, F&& fn) {
  int64_t n = 1;
  for (int64_t s : sizes) n *= s;
  if (n == 0) return;
  const size_t rank = sizes.size(), ops = strides.size();
  std::vector<int64_t> idx(rank, 0), off(ops, 0);
  for (int64_t linear = 0; linear < n; ++linear) {
    fn(off.data());
    for (size_t d = rank; d-- > 0;) {
      if (++idx[d] < sizes[d]) {
        for (size_t k = 0; k < ops; ++k) off[k] += strides[k][d];
        break;
      }
      for (size_t k = 0; k < ops; ++k) off[k] -= strides[k][d] * (sizes[d] - 1);
      idx[d] = 0;
    }
  }
}

// where.self_out(Tensor condition, Tensor self, Tensor other, *, Tensor(a!) out)
void where_self_out(KernelArgs& args) {
  args.expectCount(5);
  const Tensor& cond = args.tensor(0);
  const Tensor& a = args.tensor(1);
  const Tensor& b = args.tensor(2);
  Tensor& out = args.tensor(3);
  if (cond.dtype() != ScalarType::Bool && cond.dtype() != ScalarType::Byte)
    args.fail(ErrorCode::InvalidArgument, "condition must be a bool tensor, got ",
              scalarTypeName(cond.dtype()));
  checkLoadable(args, a, "self");
  checkLoadable(args, b, "other");
  checkLoadable(args, out, "out");
  const ScalarType ct = resultType(a, b);
  const std::vector<int64_t> sizes =
      broadcastShapes(args, broadcastShapes(args, cond.sizes(), a.sizes()), b.sizes());
  args.resizeOut(out, sizes);
  const std::vector<std::vector<int64_t>> strides = {
      broadcastStrides(cond, sizes), broadcastStrides(a, sizes), broadcastStrides(b, sizes),
      out.strides()};
  const bool fl = isFloatingType(ct);
  forEachOffsets(sizes, strides, [&](const int64_t* off) {
    const bool c = loadInt(cond.data(), cond.dtype(), off[0]) != 0;
    const Tensor& src = c ? a : b;
    const int64_t so = c ? off[1] : off[2];
    if (fl) {
      storeDouble(out.data(), out.dtype(), off[3],
                  roundTo(ct, loadDouble(src.data(), src.dtype(), so)));
    } else if (ct == ScalarType::Bool) {
      storeInt(out.data(), out.dtype(), off[3], loadInt(src.data(), src.dtype(), so) != 0 ? 1 : 0);
    } else {
      storeInt(out.data(), out.dtype(), off[3], loadInt(src.data(), src.dtype(), so));
    }
  });
}

}  // namespace

ETN_REGISTER_KERNEL("aten::where.self_out", where_self_out);

}  // namespace etn
