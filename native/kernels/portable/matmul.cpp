// Matrix products: mm, bmm, addmm and linear. Each output row is computed by
// one row kernel that accumulates every output element in double (floating
// dtypes; products of float32 values are exact in double) or wrapping int64
// (integer dtypes), always summing over k in increasing order. The loop order
// follows the second operand's layout: row-major B streams B's rows into a
// row of accumulators, otherwise each output element is a dot product.
#include <cstdint>
#include <optional>
#include <vector>

#include "../kernel_util.h"

namespace etn {
namespace {

// A strided 2-D view: element (r, c) is at base + r * rs + c * cs.
struct View {
  const void* data;
  ScalarType t;
  int64_t base, rs, cs;
};

// acc[j] = sum_p a[p] * B(p, j), with the k values of a already in double.
template <typename T>
void rowTimesTyped(const double* a, const View& B, int64_t k, int64_t m, double* acc) {
  const T* b = static_cast<const T*>(B.data) + B.base;
  if (B.cs == 1 || m == 1) {
    for (int64_t j = 0; j < m; ++j) acc[j] = 0;
    for (int64_t p = 0; p < k; ++p) {
      const double ap = a[p];
      const T* brow = b + p * B.rs;
      for (int64_t j = 0; j < m; ++j) acc[j] += ap * static_cast<double>(brow[j * B.cs]);
    }
  } else {
    for (int64_t j = 0; j < m; ++j) {
      const T* bcol = b + j * B.cs;
      double s = 0;
      for (int64_t p = 0; p < k; ++p) s += a[p] * static_cast<double>(bcol[p * B.rs]);
      acc[j] = s;
    }
  }
}

void rowTimesGeneric(const double* a, const View& B, int64_t k, int64_t m, double* acc) {
  for (int64_t j = 0; j < m; ++j) acc[j] = 0;
  for (int64_t p = 0; p < k; ++p) {
    const double ap = a[p];
    for (int64_t j = 0; j < m; ++j)
      acc[j] += ap * loadDouble(B.data, B.t, B.base + p * B.rs + j * B.cs);
  }
}

// One output row in double: row `aBase` of A (k elements, stride aStride) times B.
void rowTimesDouble(const void* aData, ScalarType at, int64_t aBase, int64_t aStride,
                    const View& B, int64_t k, int64_t m, std::vector<double>& aRow,
                    std::vector<double>& acc) {
  for (int64_t p = 0; p < k; ++p) aRow[static_cast<size_t>(p)] = loadDouble(aData, at, aBase + p * aStride);
  if (B.t == ScalarType::Float) rowTimesTyped<float>(aRow.data(), B, k, m, acc.data());
  else if (B.t == ScalarType::Double) rowTimesTyped<double>(aRow.data(), B, k, m, acc.data());
  else rowTimesGeneric(aRow.data(), B, k, m, acc.data());
}

void rowTimesInt(const void* aData, ScalarType at, int64_t aBase, int64_t aStride, const View& B,
                 int64_t k, int64_t m, std::vector<int64_t>& acc) {
  for (int64_t j = 0; j < m; ++j) acc[static_cast<size_t>(j)] = 0;
  for (int64_t p = 0; p < k; ++p) {
    const int64_t ap = loadInt(aData, at, aBase + p * aStride);
    for (int64_t j = 0; j < m; ++j)
      acc[static_cast<size_t>(j)] = wrapAdd(acc[static_cast<size_t>(j)],
                                            wrapMul(ap, loadInt(B.data, B.t, B.base + p * B.rs + j * B.cs)));
  }
}

// Optional epilogue: out = alpha * acc + beta * bias(i, j). Bias offsets come
// from the caller (broadcast strides), beta == 0 ignores the bias entirely.
struct Epilogue {
  const Tensor* bias = nullptr;
  double alphaD = 1, betaD = 1;
  int64_t alphaI = 1, betaI = 1;
};

// Computes `rows` output rows. rowOffsets(r) gives {aBase, outBase, biasBase}
// for row r; within a row A advances by aStride, out by outStride, bias by biasStride.
struct RowGeom {
  int64_t aBase, outBase, biasBase;
};

template <typename RowFn>
void runRows(const KernelArgs& args, int64_t rows, const Tensor& a, int64_t aStride,
             const View& B, int64_t k, int64_t m, Tensor& out, int64_t outStride,
             int64_t biasStride, const Epilogue& ep, ScalarType ct, RowFn&& rowGeom) {
  (void)args;
  const bool useBias = ep.bias != nullptr;
  if (isFloatingType(ct)) {
    std::vector<double> aRow(static_cast<size_t>(k)), acc(static_cast<size_t>(m));
    const bool betaZero = ep.betaD == 0;
    for (int64_t r = 0; r < rows; ++r) {
      const RowGeom g = rowGeom(r);
      rowTimesDouble(a.data(), a.dtype(), g.aBase, aStride, B, k, m, aRow, acc);
      for (int64_t j = 0; j < m; ++j) {
        double v = acc[static_cast<size_t>(j)];
        if (useBias) {
          v = ep.alphaD * v;
          if (!betaZero)
            v += ep.betaD * roundTo(ct, loadDouble(ep.bias->data(), ep.bias->dtype(),
                                                   g.biasBase + j * biasStride));
        }
        storeDouble(out.data(), out.dtype(), g.outBase + j * outStride, roundTo(ct, v));
      }
    }
  } else {
    std::vector<int64_t> acc(static_cast<size_t>(m));
    for (int64_t r = 0; r < rows; ++r) {
      const RowGeom g = rowGeom(r);
      rowTimesInt(a.data(), a.dtype(), g.aBase, aStride, B, k, m, acc);
      for (int64_t j = 0; j < m; ++j) {
        int64_t v = acc[static_cast<size_t>(j)];
        if (useBias) {
          v = wrapMul(ep.alphaI, v);
          if (ep.betaI != 0)
            v = wrapAdd(v, wrapMul(ep.betaI, loadInt(ep.bias->data(), ep.bias->dtype(),
                                                     g.biasBase + j * biasStride)));
        }
        if (ct == ScalarType::Bool) v = v != 0 ? 1 : 0;
        storeInt(out.data(), out.dtype(), g.outBase + j * outStride, v);
      }
    }
  }
}

void checkOperands(const KernelArgs& args, const Tensor& a, const char* an, const Tensor& b,
                   const char* bn, const Tensor& out) {
  checkLoadable(args, a, an);
  checkLoadable(args, b, bn);
  checkLoadable(args, out, "out");
  if (a.dtype() != b.dtype())
    args.fail(ErrorCode::InvalidArgument, "expected ", an, " and ", bn, " to have the same dtype, got ",
              scalarTypeName(a.dtype()), " and ", scalarTypeName(b.dtype()));
}

void checkRank(const KernelArgs& args, const Tensor& t, int64_t rank, const char* what) {
  if (t.dim() != rank)
    args.fail(ErrorCode::InvalidArgument, what, " must be a ", rank, "-D tensor, got ", t.describe());
}

// out[n, m] = [alpha *] a[n, k] @ b[k, m] [+ beta * bias]
void matmul2d(const KernelArgs& args, const Tensor& a, const Tensor& b, Tensor& out,
              const Epilogue& ep) {
  const int64_t n = a.size(0), k = a.size(1), m = b.size(1);
  if (b.size(0) != k)
    args.fail(ErrorCode::InvalidArgument, "shapes ", formatSizes(a.sizes()), " and ",
              formatSizes(b.sizes()), " cannot be multiplied");
  const std::vector<int64_t> outSizes = {n, m};
  std::vector<int64_t> biasStrides = {0, 0};
  if (ep.bias) {
    if (broadcastShapes(args, ep.bias->sizes(), outSizes) != outSizes)
      args.fail(ErrorCode::InvalidArgument, "bias ", formatSizes(ep.bias->sizes()),
                " does not broadcast to ", formatSizes(outSizes));
    biasStrides = broadcastStrides(*ep.bias, outSizes);
  }
  args.resizeOut(out, outSizes);
  const View B{b.data(), b.dtype(), 0, b.strides()[0], b.strides()[1]};
  const int64_t as0 = a.strides()[0], os0 = out.strides()[0];
  runRows(args, n, a, a.strides()[1], B, k, m, out, out.strides()[1], biasStrides[1], ep, a.dtype(),
          [&](int64_t r) { return RowGeom{r * as0, r * os0, r * biasStrides[0]}; });
}

// mm.out(Tensor self, Tensor mat2, *, Tensor(a!) out)
void mm_out(KernelArgs& args) {
  args.expectCount(4);
  const Tensor& a = args.tensor(0);
  const Tensor& b = args.tensor(1);
  Tensor& out = args.tensor(2);
  checkOperands(args, a, "self", b, "mat2", out);
  checkRank(args, a, 2, "self");
  checkRank(args, b, 2, "mat2");
  matmul2d(args, a, b, out, Epilogue{});
}

// addmm.out(Tensor self, Tensor mat1, Tensor mat2, *, Scalar beta=1, Scalar alpha=1, Tensor(a!) out)
void addmm_out(KernelArgs& args) {
  args.expectCount(7);
  const Tensor& bias = args.tensor(0);
  const Tensor& a = args.tensor(1);
  const Tensor& b = args.tensor(2);
  const Scalar beta = args.scalar(3), alpha = args.scalar(4);
  Tensor& out = args.tensor(5);
  checkOperands(args, a, "mat1", b, "mat2", out);
  checkLoadable(args, bias, "self");
  if (bias.dtype() != a.dtype())
    args.fail(ErrorCode::InvalidArgument, "expected self and mat1 to have the same dtype, got ",
              scalarTypeName(bias.dtype()), " and ", scalarTypeName(a.dtype()));
  checkRank(args, a, 2, "mat1");
  checkRank(args, b, 2, "mat2");
  Epilogue ep;
  ep.bias = &bias;
  const ScalarType ct = a.dtype();
  if (isFloatingType(ct)) {
    ep.alphaD = roundTo(ct, alpha.toDouble());
    ep.betaD = roundTo(ct, beta.toDouble());
  } else {
    if (alpha.isFloating() || beta.isFloating())
      args.fail(ErrorCode::InvalidArgument,
                "alpha and beta must not be floating point numbers for integral inputs");
    ep.alphaI = alpha.i;
    ep.betaI = beta.i;
  }
  matmul2d(args, a, b, out, ep);
}

// bmm.out(Tensor self, Tensor mat2, *, Tensor(a!) out)
void bmm_out(KernelArgs& args) {
  args.expectCount(4);
  const Tensor& a = args.tensor(0);
  const Tensor& b = args.tensor(1);
  Tensor& out = args.tensor(2);
  checkOperands(args, a, "self", b, "mat2", out);
  checkRank(args, a, 3, "self");
  checkRank(args, b, 3, "mat2");
  const int64_t batch = a.size(0), n = a.size(1), k = a.size(2), m = b.size(2);
  if (b.size(0) != batch || b.size(1) != k)
    args.fail(ErrorCode::InvalidArgument, "shapes ", formatSizes(a.sizes()), " and ",
              formatSizes(b.sizes()), " cannot be batch-multiplied");
  args.resizeOut(out, {batch, n, m});
  const std::vector<int64_t>& as = a.strides();
  const std::vector<int64_t>& bs = b.strides();
  const std::vector<int64_t>& os = out.strides();
  for (int64_t bi = 0; bi < batch; ++bi) {
    const View B{b.data(), b.dtype(), bi * bs[0], bs[1], bs[2]};
    runRows(args, n, a, as[2], B, k, m, out, os[2], 0, Epilogue{}, a.dtype(),
            [&](int64_t r) { return RowGeom{bi * as[0] + r * as[1], bi * os[0] + r * os[1], 0}; });
  }
}

// linear.out(Tensor input, Tensor weight, Tensor? bias=None, *, Tensor(a!) out)
// out[..., j] = sum_p input[..., p] * weight[j, p] (+ bias[j])
void linear_out(KernelArgs& args) {
  args.expectCount(5);
  const Tensor& x = args.tensor(0);
  const Tensor& w = args.tensor(1);
  const Tensor* bias = args.optTensor(2);
  Tensor& out = args.tensor(3);
  checkOperands(args, x, "input", w, "weight", out);
  checkRank(args, w, 2, "weight");
  if (x.dim() < 1) args.fail(ErrorCode::InvalidArgument, "input must have at least 1 dim");
  const int64_t k = w.size(1), m = w.size(0);
  if (x.size(x.dim() - 1) != k)
    args.fail(ErrorCode::InvalidArgument, "input ", formatSizes(x.sizes()),
              " does not match weight ", formatSizes(w.sizes()));
  std::vector<int64_t> outSizes(x.sizes().begin(), x.sizes().end() - 1);
  outSizes.push_back(m);
  Epilogue ep;
  std::vector<int64_t> biasStrides(outSizes.size(), 0);
  if (bias) {
    checkLoadable(args, *bias, "bias");
    if (bias->dtype() != x.dtype())
      args.fail(ErrorCode::InvalidArgument, "expected bias to have dtype ", scalarTypeName(x.dtype()),
                ", got ", scalarTypeName(bias->dtype()));
    if (broadcastShapes(args, bias->sizes(), outSizes) != outSizes)
      args.fail(ErrorCode::InvalidArgument, "bias ", formatSizes(bias->sizes()),
                " does not broadcast to ", formatSizes(outSizes));
    biasStrides = broadcastStrides(*bias, outSizes);
    ep.bias = bias;
  }
  args.resizeOut(out, outSizes);
  // B(p, j) = weight[j, p]
  const View B{w.data(), w.dtype(), 0, w.strides()[1], w.strides()[0]};
  // Leading dims: one output row per index.
  const size_t lead = outSizes.size() - 1;
  const std::vector<int64_t> leadSizes(outSizes.begin(), outSizes.begin() + static_cast<int64_t>(lead));
  const std::vector<int64_t> xs(x.strides().begin(), x.strides().begin() + static_cast<int64_t>(lead));
  const std::vector<int64_t> os(out.strides().begin(), out.strides().begin() + static_cast<int64_t>(lead));
  const std::vector<int64_t> bsl(biasStrides.begin(), biasStrides.begin() + static_cast<int64_t>(lead));
  std::vector<RowGeom> rows;
  forEachIndex3(leadSizes, xs, os, bsl, [&](int64_t, int64_t xo, int64_t oo, int64_t bo) {
    rows.push_back(RowGeom{xo, oo, bo});
  });
  runRows(args, static_cast<int64_t>(rows.size()), x, x.strides()[lead], B, k, m, out,
          out.strides()[lead], biasStrides[lead], ep, x.dtype(),
          [&](int64_t r) { return rows[static_cast<size_t>(r)]; });
}

}  // namespace

ETN_REGISTER_KERNEL("aten::mm.out", mm_out);
ETN_REGISTER_KERNEL("aten::addmm.out", addmm_out);
ETN_REGISTER_KERNEL("aten::bmm.out", bmm_out);
ETN_REGISTER_KERNEL("aten::linear.out", linear_out);

}  // namespace etn
