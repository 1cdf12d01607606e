// Convolution (1-D / 2-D, grouped, dilated, transposed), 2-D max / average
// pooling and constant padding. Float math is accumulated in double and
// rounded once on store.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <vector>

#include "../kernel_util.h"

namespace etn {
namespace {

void requireData(const KernelArgs& args, const Tensor& t, const char* what) {
  if (t.numel() > 0 && t.data() == nullptr)
    args.fail(ErrorCode::Internal, what, " ", t.describe(), " has no data buffer");
}

void requireRank(const KernelArgs& args, const Tensor& out, size_t rank) {
  if (static_cast<size_t>(out.dim()) != rank)
    args.fail(ErrorCode::InvalidArgument, "output ", out.describe(), " should have rank ", rank);
}

// Reads a tensor in logical order into a dense double buffer.
std::vector<double> toDoubles(const KernelArgs& args, const Tensor& t, const char* what) {
  checkLoadable(args, t, what);
  requireData(args, t, what);
  std::vector<double> v(static_cast<size_t>(t.numel()));
  const void* d = t.data();
  const ScalarType st = t.dtype();
  if (st == ScalarType::Float && t.isContiguous()) {
    const float* f = static_cast<const float*>(d);
    for (size_t i = 0; i < v.size(); ++i) v[i] = f[i];
    return v;
  }
  forEachElement(t, [&](int64_t lin, int64_t off) {
    v[static_cast<size_t>(lin)] = loadDouble(d, st, off);
  });
  return v;
}

// An int[] parameter with `n` entries: a single value is repeated, an empty
// list means `dflt`.
std::vector<int64_t> expandParam(const KernelArgs& args, size_t i, size_t n, int64_t dflt,
                                 const char* what) {
  std::vector<int64_t> v = args.intList(i);
  if (v.empty()) return std::vector<int64_t>(n, dflt);
  if (v.size() == 1) return std::vector<int64_t>(n, v[0]);
  if (v.size() != n)
    args.fail(ErrorCode::InvalidArgument, what, " ", formatSizes(v), " should have ", n,
              " values");
  return v;
}

// ---------------------------------------------------------------------------
// Convolution

// aten::convolution.out(Tensor input, Tensor weight, Tensor? bias, int[] stride, int[] padding,
//     int[] dilation, bool transposed, int[] output_padding, int groups, *, Tensor(a!) out)
void convolution_out(KernelArgs& args) {
  args.expectCount(11);
  Tensor& input = args.tensor(0);
  Tensor& weight = args.tensor(1);
  Tensor* bias = args.optTensor(2);
  const bool transposed = args.toBool(6);
  const int64_t groups = args.toInt(8);
  Tensor& out = args.tensor(9);

  const int64_t wdim = weight.dim();
  if (wdim != 3 && wdim != 4)
    args.fail(wdim == 5 ? ErrorCode::NotSupported : ErrorCode::InvalidArgument,
              "only 1-D and 2-D convolutions are supported, weight is ", weight.describe());
  const size_t sd = static_cast<size_t>(wdim - 2);
  const bool batched = input.dim() == wdim;
  if (!batched && input.dim() != wdim - 1)
    args.fail(ErrorCode::InvalidArgument, "input ", input.describe(), " does not match weight ",
              weight.describe());
  if (!isFloatingType(input.dtype()))
    args.fail(ErrorCode::NotSupported, "input dtype ", scalarTypeName(input.dtype()),
              " (floating point only)");
  requireSameDtype(args, input, weight, "input and weight");
  requireSameDtype(args, input, out, "input and output");

  const std::vector<int64_t> stride = expandParam(args, 3, sd, 1, "stride");
  const std::vector<int64_t> padding = expandParam(args, 4, sd, 0, "padding");
  const std::vector<int64_t> dilation = expandParam(args, 5, sd, 1, "dilation");
  const std::vector<int64_t> outPad = expandParam(args, 7, sd, 0, "output_padding");
  for (size_t k = 0; k < sd; ++k) {
    if (stride[k] <= 0) args.fail(ErrorCode::InvalidArgument, "stride must be positive");
    if (dilation[k] <= 0) args.fail(ErrorCode::InvalidArgument, "dilation must be positive");
    if (padding[k] < 0) args.fail(ErrorCode::InvalidArgument, "padding must be non-negative");
    if (outPad[k] < 0) args.fail(ErrorCode::InvalidArgument, "output_padding must be non-negative");
    if (transposed && outPad[k] >= stride[k] && outPad[k] >= dilation[k])
      args.fail(ErrorCode::InvalidArgument,
                "output padding must be smaller than either stride or dilation");
  }
  if (groups <= 0) args.fail(ErrorCode::InvalidArgument, "groups must be positive, got ", groups);

  // Everything as [N, C, H, W] (1-D: H = 1).
  const int64_t off = batched ? 1 : 0;
  const int64_t N = batched ? input.size(0) : 1;
  const int64_t Cin = input.size(off);
  const int64_t H = sd == 2 ? input.size(off + 1) : 1;
  const int64_t W = input.size(off + static_cast<int64_t>(sd));
  const int64_t KH = sd == 2 ? weight.size(2) : 1;
  const int64_t KW = weight.size(1 + static_cast<int64_t>(sd));
  const int64_t SH = sd == 2 ? stride[0] : 1, SW = stride[sd - 1];
  const int64_t PH = sd == 2 ? padding[0] : 0, PW = padding[sd - 1];
  const int64_t DH = sd == 2 ? dilation[0] : 1, DW = dilation[sd - 1];
  const int64_t OPH = sd == 2 ? outPad[0] : 0, OPW = outPad[sd - 1];

  int64_t Cout, OH, OW;
  if (!transposed) {
    Cout = weight.size(0);
    if (Cin % groups != 0 || weight.size(1) * groups != Cin)
      args.fail(ErrorCode::InvalidArgument, "input ", input.describe(), " with groups=", groups,
                " does not match weight ", weight.describe());
    if (Cout % groups != 0)
      args.fail(ErrorCode::InvalidArgument, "out channels ", Cout, " not divisible by groups ",
                groups);
    OH = (H + 2 * PH - DH * (KH - 1) - 1) / SH + 1;
    OW = (W + 2 * PW - DW * (KW - 1) - 1) / SW + 1;
    if (H + 2 * PH - DH * (KH - 1) - 1 < 0 || W + 2 * PW - DW * (KW - 1) - 1 < 0)
      args.fail(ErrorCode::InvalidArgument, "kernel ", weight.describe(),
                " is larger than the padded input ", input.describe());
  } else {
    if (weight.size(0) != Cin || Cin % groups != 0)
      args.fail(ErrorCode::InvalidArgument, "input ", input.describe(), " with groups=", groups,
                " does not match transposed weight ", weight.describe());
    Cout = weight.size(1) * groups;
    OH = (H - 1) * SH - 2 * PH + DH * (KH - 1) + OPH + 1;
    OW = (W - 1) * SW - 2 * PW + DW * (KW - 1) + OPW + 1;
    if (OH <= 0 || OW <= 0)
      args.fail(ErrorCode::InvalidArgument, "transposed convolution output would be empty");
  }
  if (bias && bias->numel() != Cout)
    args.fail(ErrorCode::InvalidArgument, "bias ", bias->describe(), " should have ", Cout,
              " elements");

  std::vector<int64_t> outSizes;
  if (batched) outSizes.push_back(N);
  outSizes.push_back(Cout);
  if (sd == 2) outSizes.push_back(OH);
  outSizes.push_back(OW);
  requireRank(args, out, outSizes.size());
  args.resizeOut(out, outSizes);
  if (out.numel() == 0) return;
  requireData(args, out, "output");

  const std::vector<double> in = toDoubles(args, input, "input");
  const std::vector<double> wt = toDoubles(args, weight, "weight");
  std::vector<double> bs(static_cast<size_t>(Cout), 0.0);
  if (bias) bs = toDoubles(args, *bias, "bias");

  // Output strides as [N, C, H, W].
  const std::vector<int64_t>& os = out.strides();
  const int64_t osN = batched ? os[0] : 0;
  const int64_t osC = os[static_cast<size_t>(off)];
  const int64_t osH = sd == 2 ? os[static_cast<size_t>(off + 1)] : 0;
  const int64_t osW = os[static_cast<size_t>(off) + sd];
  void* od = out.data();
  const ScalarType ot = out.dtype();

  const int64_t CinG = Cin / groups, CoutG = Cout / groups;
  const int64_t plane = OH * OW;
  if (!transposed) {
    std::vector<double> acc(static_cast<size_t>(plane));
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t oc = 0; oc < Cout; ++oc) {
        const int64_t g = oc / CoutG;
        std::fill(acc.begin(), acc.end(), bs[static_cast<size_t>(oc)]);
        for (int64_t icg = 0; icg < CinG; ++icg) {
          const int64_t ic = g * CinG + icg;
          const double* ip = in.data() + (n * Cin + ic) * H * W;
          const double* wp = wt.data() + (oc * CinG + icg) * KH * KW;
          for (int64_t kh = 0; kh < KH; ++kh) {
            for (int64_t kw = 0; kw < KW; ++kw) {
              const double w = wp[kh * KW + kw];
              if (w == 0.0) continue;
              const int64_t shiftW = kw * DW - PW;  // iw = ow*SW + shiftW
              const int64_t lo = shiftW >= 0 ? 0 : (-shiftW + SW - 1) / SW;
              const int64_t u = W - 1 - shiftW;
              int64_t hi = u < 0 ? 0 : u / SW + 1;
              if (hi > OW) hi = OW;
              if (lo >= hi) continue;
              for (int64_t oh = 0; oh < OH; ++oh) {
                const int64_t ih = oh * SH - PH + kh * DH;
                if (ih < 0 || ih >= H) continue;
                const double* row = ip + ih * W + shiftW;
                double* arow = acc.data() + oh * OW;
                if (SW == 1) {
                  for (int64_t ow = lo; ow < hi; ++ow) arow[ow] += w * row[ow];
                } else {
                  for (int64_t ow = lo; ow < hi; ++ow) arow[ow] += w * row[ow * SW];
                }
              }
            }
          }
        }
        const int64_t base = n * osN + oc * osC;
        for (int64_t oh = 0; oh < OH; ++oh)
          for (int64_t ow = 0; ow < OW; ++ow)
            storeDouble(od, ot, base + oh * osH + ow * osW,
                        acc[static_cast<size_t>(oh * OW + ow)]);
      }
    }
  } else {
    std::vector<double> acc(static_cast<size_t>(Cout * plane));
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t oc = 0; oc < Cout; ++oc)
        std::fill(acc.begin() + oc * plane, acc.begin() + (oc + 1) * plane,
                  bs[static_cast<size_t>(oc)]);
      for (int64_t ic = 0; ic < Cin; ++ic) {
        const int64_t g = ic / CinG;
        const double* ip = in.data() + (n * Cin + ic) * H * W;
        for (int64_t ocg = 0; ocg < CoutG; ++ocg) {
          const int64_t oc = g * CoutG + ocg;
          const double* wp = wt.data() + (ic * CoutG + ocg) * KH * KW;
          double* ap = acc.data() + oc * plane;
          for (int64_t kh = 0; kh < KH; ++kh) {
            for (int64_t kw = 0; kw < KW; ++kw) {
              const double w = wp[kh * KW + kw];
              if (w == 0.0) continue;
              for (int64_t ih = 0; ih < H; ++ih) {
                const int64_t oh = ih * SH - PH + kh * DH;
                if (oh < 0 || oh >= OH) continue;
                for (int64_t iw = 0; iw < W; ++iw) {
                  const int64_t ow = iw * SW - PW + kw * DW;
                  if (ow < 0 || ow >= OW) continue;
                  ap[oh * OW + ow] += w * ip[ih * W + iw];
                }
              }
            }
          }
        }
      }
      for (int64_t oc = 0; oc < Cout; ++oc) {
        const int64_t base = n * osN + oc * osC;
        for (int64_t oh = 0; oh < OH; ++oh)
          for (int64_t ow = 0; ow < OW; ++ow)
            storeDouble(od, ot, base + oh * osH + ow * osW,
                        acc[static_cast<size_t>(oc * plane + oh * OW + ow)]);
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Pooling

// PyTorch's pooling_output_shape.
int64_t poolOutSize(int64_t in, int64_t k, int64_t pad, int64_t stride, int64_t dil,
                    bool ceil) {
  const int64_t num = in + 2 * pad - dil * (k - 1) - 1 + (ceil ? stride - 1 : 0);
  // Floor division (num may be negative for tiny inputs).
  int64_t q = num / stride;
  if ((num % stride != 0) && ((num < 0) != (stride < 0))) --q;
  int64_t out = q + 1;
  if (ceil && (out - 1) * stride >= in + pad) --out;
  return out;
}

struct Pool2dGeom {
  int64_t N, C, H, W, OH, OW;
  int64_t KH, KW, SH, SW, PH, PW, DH, DW;
  bool batched;
};

Pool2dGeom poolGeom(KernelArgs& args, const Tensor& self, size_t ksI, size_t strideI,
                    size_t padI, std::optional<size_t> dilI, bool ceil) {
  if (self.dim() != 3 && self.dim() != 4)
    args.fail(ErrorCode::InvalidArgument, "expects a 3-D or 4-D input, got ", self.describe());
  Pool2dGeom g{};
  g.batched = self.dim() == 4;
  const int64_t o = g.batched ? 1 : 0;
  g.N = g.batched ? self.size(0) : 1;
  g.C = self.size(o);
  g.H = self.size(o + 1);
  g.W = self.size(o + 2);
  const std::vector<int64_t> ks = args.intList(ksI);
  if (ks.size() != 1 && ks.size() != 2)
    args.fail(ErrorCode::InvalidArgument, "kernel_size ", formatSizes(ks),
              " must have 1 or 2 values");
  g.KH = ks[0];
  g.KW = ks.size() == 2 ? ks[1] : ks[0];
  std::vector<int64_t> st = args.intList(strideI);
  if (st.empty()) st = {g.KH, g.KW};
  if (st.size() != 1 && st.size() != 2)
    args.fail(ErrorCode::InvalidArgument, "stride ", formatSizes(st), " must have 1 or 2 values");
  g.SH = st[0];
  g.SW = st.size() == 2 ? st[1] : st[0];
  const std::vector<int64_t> pd = args.intList(padI);
  if (pd.size() != 1 && pd.size() != 2)
    args.fail(ErrorCode::InvalidArgument, "padding ", formatSizes(pd),
              " must have 1 or 2 values");
  g.PH = pd[0];
  g.PW = pd.size() == 2 ? pd[1] : pd[0];
  g.DH = g.DW = 1;
  if (dilI) {
    const std::vector<int64_t> dl = args.intList(*dilI);
    if (dl.size() != 1 && dl.size() != 2)
      args.fail(ErrorCode::InvalidArgument, "dilation ", formatSizes(dl),
                " must have 1 or 2 values");
    g.DH = dl[0];
    g.DW = dl.size() == 2 ? dl[1] : dl[0];
  }
  if (g.KH <= 0 || g.KW <= 0) args.fail(ErrorCode::InvalidArgument, "kernel size must be positive");
  if (g.SH <= 0 || g.SW <= 0) args.fail(ErrorCode::InvalidArgument, "stride must be positive");
  if (g.DH <= 0 || g.DW <= 0) args.fail(ErrorCode::InvalidArgument, "dilation must be positive");
  if (g.PH < 0 || g.PW < 0) args.fail(ErrorCode::InvalidArgument, "padding must be non-negative");
  if (g.PH > ((g.KH - 1) * g.DH + 1) / 2 || g.PW > ((g.KW - 1) * g.DW + 1) / 2)
    args.fail(ErrorCode::InvalidArgument, "padding should be at most half of the kernel size");
  g.OH = poolOutSize(g.H, g.KH, g.PH, g.SH, g.DH, ceil);
  g.OW = poolOutSize(g.W, g.KW, g.PW, g.SW, g.DW, ceil);
  if (g.OH < 1 || g.OW < 1)
    args.fail(ErrorCode::InvalidArgument, "input ", self.describe(),
              " is too small for the pooling window (output ", g.OH, "x", g.OW, ")");
  return g;
}

std::vector<int64_t> poolOutSizes(const Pool2dGeom& g) {
  if (g.batched) return {g.N, g.C, g.OH, g.OW};
  return {g.C, g.OH, g.OW};
}

// [N, C, H, W] strides of a 3-D or 4-D tensor.
void strides4(const Tensor& t, bool batched, int64_t s[4]) {
  const std::vector<int64_t>& st = t.strides();
  const size_t o = batched ? 1 : 0;
  s[0] = batched ? st[0] : 0;
  s[1] = st[o];
  s[2] = st[o + 1];
  s[3] = st[o + 2];
}

// aten::max_pool2d_with_indices.out(Tensor self, int[2] kernel_size, int[2] stride=[],
//     int[2] padding=0, int[2] dilation=1, bool ceil_mode=False, *, Tensor(a!) out,
//     Tensor(b!) indices) -> (Tensor(a!), Tensor(b!))
// Programs pass the two outputs and then the returned pair (a TensorList).
void max_pool2d_with_indices_out(KernelArgs& args) {
  if (args.size() != 9 && args.size() != 10) args.expectCount(9);
  Tensor& self = args.tensor(0);
  const bool ceil = args.toBool(5);
  Tensor& out = args.tensor(6);
  Tensor& indices = args.tensor(7);
  requireSameDtype(args, self, out, "input and output");
  checkLoadable(args, self, "input");
  if (indices.dtype() != ScalarType::Long && indices.dtype() != ScalarType::Int)
    args.fail(ErrorCode::InvalidArgument, "indices must be int64, got ",
              scalarTypeName(indices.dtype()));
  const Pool2dGeom g = poolGeom(args, self, 1, 2, 3, 4, ceil);
  const std::vector<int64_t> sizes = poolOutSizes(g);
  requireRank(args, out, sizes.size());
  requireRank(args, indices, sizes.size());
  args.resizeOut(out, sizes);
  args.resizeOut(indices, sizes);
  if (out.numel() == 0) return;
  requireData(args, self, "input");
  requireData(args, out, "output");
  requireData(args, indices, "indices");
  int64_t is[4], os[4], xs[4];
  strides4(self, g.batched, is);
  strides4(out, g.batched, os);
  strides4(indices, g.batched, xs);
  const void* id = self.data();
  void* od = out.data();
  void* xd = indices.data();
  const ScalarType dt = self.dtype(), xt = indices.dtype();
  const bool fastFloat = dt == ScalarType::Float;
  const float* fin = static_cast<const float*>(id);
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t c = 0; c < g.C; ++c) {
      const int64_t ibase = n * is[0] + c * is[1];
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          int64_t hs = oh * g.SH - g.PH;
          int64_t ws = ow * g.SW - g.PW;
          const int64_t he = std::min(hs + (g.KH - 1) * g.DH + 1, g.H);
          const int64_t we = std::min(ws + (g.KW - 1) * g.DW + 1, g.W);
          while (hs < 0) hs += g.DH;
          while (ws < 0) ws += g.DW;
          double best = -std::numeric_limits<double>::infinity();
          int64_t bestIdx = hs * g.W + ws;
          for (int64_t h = hs; h < he; h += g.DH)
            for (int64_t w = ws; w < we; w += g.DW) {
              const int64_t at = ibase + h * is[2] + w * is[3];
              const double v = fastFloat ? fin[at] : loadDouble(id, dt, at);
              if (v > best || std::isnan(v)) {
                best = v;
                bestIdx = h * g.W + w;
              }
            }
          storeDouble(od, dt, n * os[0] + c * os[1] + oh * os[2] + ow * os[3], best);
          storeInt(xd, xt, n * xs[0] + c * xs[1] + oh * xs[2] + ow * xs[3], bestIdx);
        }
    }
}

// aten::avg_pool2d.out(Tensor self, int[2] kernel_size, int[2] stride=[], int[2] padding=0,
//     bool ceil_mode=False, bool count_include_pad=True, int? divisor_override=None, *,
//     Tensor(a!) out)
void avg_pool2d_out(KernelArgs& args) {
  args.expectCount(9);
  Tensor& self = args.tensor(0);
  const bool ceil = args.toBool(4);
  const bool includePad = args.toBool(5);
  const std::optional<int64_t> divisor = args.optInt(6);
  Tensor& out = args.tensor(7);
  requireSameDtype(args, self, out, "input and output");
  checkLoadable(args, self, "input");
  if (divisor && *divisor == 0) args.fail(ErrorCode::InvalidArgument, "divisor must be non-zero");
  const Pool2dGeom g = poolGeom(args, self, 1, 2, 3, std::nullopt, ceil);
  const std::vector<int64_t> sizes = poolOutSizes(g);
  requireRank(args, out, sizes.size());
  args.resizeOut(out, sizes);
  if (out.numel() == 0) return;
  requireData(args, self, "input");
  requireData(args, out, "output");
  int64_t is[4], os[4];
  strides4(self, g.batched, is);
  strides4(out, g.batched, os);
  const void* id = self.data();
  void* od = out.data();
  const ScalarType dt = self.dtype();
  const bool integral = !isFloatingType(dt);
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t c = 0; c < g.C; ++c) {
      const int64_t ibase = n * is[0] + c * is[1];
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          int64_t hs = oh * g.SH - g.PH, ws = ow * g.SW - g.PW;
          int64_t he = std::min(hs + g.KH, g.H + g.PH), we = std::min(ws + g.KW, g.W + g.PW);
          const int64_t poolSize = (he - hs) * (we - ws);
          hs = std::max<int64_t>(hs, 0);
          ws = std::max<int64_t>(ws, 0);
          he = std::min(he, g.H);
          we = std::min(we, g.W);
          const int64_t dst = n * os[0] + c * os[1] + oh * os[2] + ow * os[3];
          if (hs >= he || ws >= we) {
            storeDouble(od, dt, dst, 0.0);
            continue;
          }
          const int64_t div = divisor ? *divisor : (includePad ? poolSize : (he - hs) * (we - ws));
          if (integral) {
            int64_t sum = 0;
            for (int64_t h = hs; h < he; ++h)
              for (int64_t w = ws; w < we; ++w) sum += loadInt(id, dt, ibase + h * is[2] + w * is[3]);
            storeInt(od, dt, dst, sum / div);
          } else {
            double sum = 0;
            for (int64_t h = hs; h < he; ++h)
              for (int64_t w = ws; w < we; ++w)
                sum += loadDouble(id, dt, ibase + h * is[2] + w * is[3]);
            storeDouble(od, dt, dst, sum / static_cast<double>(div));
          }
        }
    }
}

// ---------------------------------------------------------------------------

// aten::constant_pad_nd.out(Tensor self, SymInt[] pad, Scalar value=0, *, Tensor(a!) out)
void constant_pad_nd_out(KernelArgs& args) {
  args.expectCount(5);
  Tensor& self = args.tensor(0);
  const std::vector<int64_t> pad = args.intList(1);
  const Scalar value = args.scalar(2);
  Tensor& out = args.tensor(3);
  requireSameDtype(args, self, out, "input and output");
  checkLoadable(args, self, "input");
  const int64_t rank = self.dim();
  if (pad.size() % 2 != 0)
    args.fail(ErrorCode::InvalidArgument, "pad ", formatSizes(pad), " must have an even length");
  if (static_cast<int64_t>(pad.size()) > 2 * rank)
    args.fail(ErrorCode::InvalidArgument, "pad ", formatSizes(pad), " is too long for ",
              self.describe());
  std::vector<int64_t> before(static_cast<size_t>(rank), 0), sizes = self.sizes();
  for (size_t j = 0; j * 2 < pad.size(); ++j) {
    const size_t d = static_cast<size_t>(rank) - 1 - j;
    before[d] = pad[2 * j];
    sizes[d] = self.sizes()[d] + pad[2 * j] + pad[2 * j + 1];
    if (sizes[d] < 0)
      args.fail(ErrorCode::InvalidArgument, "padding ", formatSizes(pad), " makes dim ", d,
                " of ", self.describe(), " negative");
  }
  requireRank(args, out, sizes.size());
  args.resizeOut(out, sizes);
  if (out.numel() == 0) return;
  requireData(args, out, "output");
  // Fill with the value, then copy the overlapping block.
  const size_t es = out.elementSize();
  unsigned char pattern[16] = {0};
  if (value.isFloating())
    storeDouble(pattern, out.dtype(), 0, value.d);
  else
    storeInt(pattern, out.dtype(), 0, value.i);
  char* od = static_cast<char*>(out.data());
  forEachElement(out, [&](int64_t, int64_t off) {
    std::memcpy(od + off * static_cast<int64_t>(es), pattern, es);
  });
  std::vector<int64_t> region(static_cast<size_t>(rank));
  int64_t inBase = 0, outBase = 0;
  for (size_t d = 0; d < static_cast<size_t>(rank); ++d) {
    const int64_t inStart = before[d] < 0 ? -before[d] : 0;
    const int64_t outStart = before[d] > 0 ? before[d] : 0;
    int64_t len = std::min(self.sizes()[d] - inStart, sizes[d] - outStart);
    if (len <= 0) return;
    region[d] = len;
    inBase += inStart * self.strides()[d];
    outBase += outStart * out.strides()[d];
  }
  requireData(args, self, "input");
  const char* id = static_cast<const char*>(self.data());
  forEachIndex2(region, self.strides(), out.strides(), [&](int64_t, int64_t a, int64_t b) {
    std::memcpy(od + (outBase + b) * static_cast<int64_t>(es),
                id + (inBase + a) * static_cast<int64_t>(es), es);
  });
}

ETN_REGISTER_KERNEL("aten::convolution.out", convolution_out);
ETN_REGISTER_KERNEL("aten::max_pool2d_with_indices.out", max_pool2d_with_indices_out);
ETN_REGISTER_KERNEL("aten::avg_pool2d.out", avg_pool2d_out);
ETN_REGISTER_KERNEL("aten::constant_pad_nd.out", constant_pad_nd_out);

}  // namespace
}  // namespace etn
