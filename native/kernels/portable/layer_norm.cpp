// aten::native_layer_norm.out: normalises over the trailing dims named by
// normalized_shape, with optional elementwise weight and bias; also returns the
// per-row mean and reciprocal standard deviation (SigLIP vision towers use it).
#include <cmath>
#include <cstdint>
#include <vector>

#include "../kernel_util.h"

namespace etn {
namespace {

// native_layer_norm.out(Tensor input, SymInt[] normalized_shape, Tensor? weight, Tensor? bias,
//   float eps, *, Tensor(a!) out0, Tensor(b!) out1, Tensor(c!) out2) -> (out0, out1, out2)
// args: input, normalized_shape, weight, bias, eps, out, mean, rstd, [out, mean, rstd]
void native_layer_norm_out(KernelArgs& args) {
  args.expectCount(9);
  const Tensor& in = args.tensor(0);
  const std::vector<int64_t> normShape = args.intList(1);
  const Tensor* weight = args.optTensor(2);
  const Tensor* bias = args.optTensor(3);
  const double eps = args.toDouble(4);
  Tensor& out = args.tensor(5);
  Tensor& mean = args.tensor(6);
  Tensor& rstd = args.tensor(7);
  const int64_t k = static_cast<int64_t>(normShape.size());
  if (k == 0 || k > in.dim())
    args.fail(ErrorCode::InvalidArgument, "normalized_shape ", formatSizes(normShape), " does not fit input ",
              in.describe());
  int64_t cols = 1;
  for (int64_t d = 0; d < k; ++d) {
    if (in.size(in.dim() - k + d) != normShape[static_cast<size_t>(d)])
      args.fail(ErrorCode::InvalidArgument, "normalized_shape ", formatSizes(normShape),
                " differs from the trailing dims of ", in.describe());
    cols *= normShape[static_cast<size_t>(d)];
  }
  for (const Tensor* p : {weight, bias})
    if (p && p->numel() != cols)
      args.fail(ErrorCode::InvalidArgument, "weight/bias ", p->describe(), " must have ", cols, " elements");
  for (const Tensor* t : {&in, static_cast<const Tensor*>(&out), static_cast<const Tensor*>(&mean), static_cast<const Tensor*>(&rstd)})
    requireContiguous(args, *t, "layer_norm tensor");
  if (weight) requireContiguous(args, *weight, "weight");
  if (bias) requireContiguous(args, *bias, "bias");
  args.resizeOut(out, in.sizes());
  std::vector<int64_t> statShape = in.sizes();
  for (int64_t d = 0; d < k; ++d) statShape[static_cast<size_t>(in.dim() - k + d)] = 1;
  args.resizeOut(mean, statShape);
  args.resizeOut(rstd, statShape);
  const int64_t rows = cols == 0 ? 0 : in.numel() / cols;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t base = r * cols;
    double sum = 0;
    for (int64_t c = 0; c < cols; ++c) sum += loadDouble(in.data(), in.dtype(), base + c);
    const double mu = sum / static_cast<double>(cols);
    double sq = 0;
    for (int64_t c = 0; c < cols; ++c) {
      const double dv = loadDouble(in.data(), in.dtype(), base + c) - mu;
      sq += dv * dv;
    }
    // Biased variance, as layer_norm uses.
    const double inv = 1.0 / std::sqrt(sq / static_cast<double>(cols) + eps);
    for (int64_t c = 0; c < cols; ++c) {
      double v = (loadDouble(in.data(), in.dtype(), base + c) - mu) * inv;
      if (weight) v *= loadDouble(weight->data(), weight->dtype(), c);
      if (bias) v += loadDouble(bias->data(), bias->dtype(), c);
      storeDouble(out.data(), out.dtype(), base + c, v);
    }
    storeDouble(mean.data(), mean.dtype(), r, mu);
    storeDouble(rstd.data(), rstd.dtype(), r, inv);
  }
}

ETN_REGISTER_KERNEL("aten::native_layer_norm.out", native_layer_norm_out);

}  // namespace
}  // namespace etn
