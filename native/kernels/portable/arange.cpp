// arange: out[i] = start + i * step for i in [0, ceil((end - start) / step)).
// Floating outputs compute in double; integral outputs use the int64 values
// of start and step (as PyTorch's integral accumulate type does).
#include <cmath>
#include <limits>

#include "../kernel_util.h"

namespace etn {
namespace {

void arangeInto(KernelArgs& args, const Scalar& start, const Scalar& end, const Scalar& step,
                Tensor& out) {
  checkLoadable(args, out, "output");
  if (out.dim() != 1)
    args.fail(ErrorCode::InvalidArgument, "output ", out.describe(), " should be 1-D");
  const bool floating = isFloatingType(out.dtype());
  double length = 0;
  if (floating || out.dtype() != ScalarType::Long) {
    const double s = start.toDouble(), e = end.toDouble(), st = step.toDouble();
    if (!std::isfinite(s) || !std::isfinite(e))
      args.fail(ErrorCode::InvalidArgument, "start and end must be finite, got ", s, " and ", e);
    if (st == 0 || std::isnan(st)) args.fail(ErrorCode::InvalidArgument, "step must be nonzero");
    if ((st > 0 && e < s) || (st < 0 && e > s))
      args.fail(ErrorCode::InvalidArgument, "upper bound ", e, " and lower bound ", s,
                " are inconsistent with step sign ", st);
    length = std::ceil((e - s) / st);
  } else {
    const int64_t s = start.toInt(), e = end.toInt(), st = step.toInt();
    if (st == 0) args.fail(ErrorCode::InvalidArgument, "step must be nonzero");
    if ((st > 0 && e < s) || (st < 0 && e > s))
      args.fail(ErrorCode::InvalidArgument, "upper bound ", e, " and lower bound ", s,
                " are inconsistent with step sign ", st);
    length = std::ceil(static_cast<double>(e - s) / static_cast<double>(st));
  }
  if (!(length >= 0) || length > static_cast<double>(std::numeric_limits<int32_t>::max()) * 64)
    args.fail(ErrorCode::InvalidArgument, "invalid arange length ", length);
  const int64_t n = static_cast<int64_t>(length);
  args.resizeOut(out, {n});
  if (n == 0) return;
  if (out.data() == nullptr)
    args.fail(ErrorCode::Internal, "output ", out.describe(), " has no data buffer");
  void* d = out.data();
  const int64_t stride = out.strides()[0];
  if (floating) {
    const double s = start.toDouble(), st = step.toDouble();
    for (int64_t i = 0; i < n; ++i) storeDouble(d, out.dtype(), i * stride, s + static_cast<double>(i) * st);
  } else {
    const int64_t s = start.toInt(), st = step.toInt();
    if (st == 0) args.fail(ErrorCode::InvalidArgument, "step truncates to zero for an integer output");
    for (int64_t i = 0; i < n; ++i) storeInt(d, out.dtype(), i * stride, s + i * st);
  }
}

// aten::arange.out(Scalar end, *, Tensor(a!) out)
void arange_out(KernelArgs& args) {
  args.expectCount(3);
  Scalar start, step;
  start.kind = Scalar::Kind::Int;
  step.kind = Scalar::Kind::Int;
  step.i = 1;
  step.d = 1;
  arangeInto(args, start, args.scalar(0), step, args.tensor(1));
}

// aten::arange.start_out(Scalar start, Scalar end, Scalar step=1, *, Tensor(a!) out)
void arange_start_out(KernelArgs& args) {
  args.expectCount(5);
  arangeInto(args, args.scalar(0), args.scalar(1), args.scalar(2), args.tensor(3));
}

ETN_REGISTER_KERNEL("aten::arange.out", arange_out);
ETN_REGISTER_KERNEL("aten::arange.start_out", arange_start_out);

}  // namespace
}  // namespace etn
