#include "xnnpack_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define ETN_XNNK_X86 1
#endif

#include <algorithm>
#include <cmath>
#include <cstring>

#include "../../runtime/scalar_type.h"

namespace etn {
namespace xnnk {

size_t numelOf(const Shape& s) {
  size_t n = 1;
  for (size_t d : s) n *= d;
  return n;
}

namespace {

// Row-major strides (in elements) of a shape.
Shape stridesOf(const Shape& s) {
  Shape st(s.size(), 1);
  size_t acc = 1;
  for (size_t k = s.size(); k-- > 0;) {
    st[k] = acc;
    acc *= s[k];
  }
  return st;
}

// Advances a multi-index over `shape` (excluding the last `skip` dims); false at the end.
bool nextIndex(Shape& idx, const Shape& shape, size_t dims) {
  for (size_t k = dims; k-- > 0;) {
    if (++idx[k] < shape[k]) return true;
    idx[k] = 0;
  }
  return false;
}

// Copies a block of `shape` between two row-major layouts (slice: out of a larger
// input; pad: into a larger output): block element i is read at in[inBase + i . inStrides]
// and written at out[outBase + i . outStrides]; the last dim is contiguous in both.
// Strides and bases count elements of `elem` bytes.
void copyBlock(const uint8_t* in, const Shape& inStrides, size_t inBase, uint8_t* out, const Shape& outStrides,
               size_t outBase, const Shape& shape, size_t elem) {
  const size_t r = shape.size();
  if (numelOf(shape) == 0) return;
  if (r == 0) {
    std::memcpy(out + outBase * elem, in + inBase * elem, elem);
    return;
  }
  const size_t inner = shape[r - 1];
  Shape idx(r, 0);
  do {
    size_t from = inBase, to = outBase;
    for (size_t k = 0; k + 1 < r; ++k) {
      from += idx[k] * inStrides[k];
      to += idx[k] * outStrides[k];
    }
    std::memcpy(out + to * elem, in + from * elem, inner * elem);
  } while (nextIndex(idx, shape, r - 1));
}

// Strides of `s` right-aligned into a shape of rank r, with 0 on broadcast dims.
Shape broadcastStrides(const Shape& s, const Shape& outShape) {
  const size_t r = outShape.size();
  Shape st(r, 0);
  const Shape own = stridesOf(s);
  const size_t off = r - s.size();
  for (size_t k = 0; k < s.size(); ++k) st[off + k] = (s[k] == 1 && outShape[off + k] != 1) ? 0 : own[k];
  return st;
}

inline float clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

template <class T, class U, typename F>
void binaryLoop(const T* a, const Shape& aShape, const T* b, const Shape& bShape, U* out, const Shape& outShape,
                F f) {
  const size_t n = numelOf(outShape);
  if (n == 0) return;
  const size_t na = numelOf(aShape), nb = numelOf(bShape);
  if (na == n && nb == n) {
    for (size_t i = 0; i < n; ++i) out[i] = f(a[i], b[i]);
    return;
  }
  if (na == n && nb == 1) {
    const T s = b[0];
    for (size_t i = 0; i < n; ++i) out[i] = f(a[i], s);
    return;
  }
  if (na == 1 && nb == n) {
    const T s = a[0];
    for (size_t i = 0; i < n; ++i) out[i] = f(s, b[i]);
    return;
  }
  const size_t r = outShape.size();
  const Shape sa = broadcastStrides(aShape, outShape);
  const Shape sb = broadcastStrides(bShape, outShape);
  const size_t inner = outShape[r - 1];
  const size_t ia = sa[r - 1], ib = sb[r - 1];
  Shape idx(r, 0);
  U* o = out;
  do {
    size_t offA = 0, offB = 0;
    for (size_t k = 0; k + 1 < r; ++k) {
      offA += idx[k] * sa[k];
      offB += idx[k] * sb[k];
    }
    const T* pa = a + offA;
    const T* pb = b + offB;
    for (size_t i = 0; i < inner; ++i) o[i] = f(pa[i * ia], pb[i * ib]);
    o += inner;
  } while (nextIndex(idx, outShape, r - 1));
}

}  // namespace

namespace {
// out[c][r] = in[r][c] for an [rows, cols] matrix, in cache-sized tiles.
template <class T>
void transpose2d(const T* in, size_t rows, size_t cols, T* out) {
  constexpr size_t kTile = 32;
  for (size_t r0 = 0; r0 < rows; r0 += kTile) {
    const size_t r1 = std::min(rows, r0 + kTile);
    for (size_t c0 = 0; c0 < cols; c0 += kTile) {
      const size_t c1 = std::min(cols, c0 + kTile);
      for (size_t c = c0; c < c1; ++c)
        for (size_t r = r0; r < r1; ++r) out[c * rows + r] = in[r * cols + c];
    }
  }
}
template <class T>
void transposeT(const T* in, const Shape& inShape, const std::vector<size_t>& perm, T* out) {
  const size_t n = numelOf(inShape);
  if (n == 0) return;
  // Simplify: drop size-1 dims, then merge input dims that stay adjacent in the output.
  std::vector<size_t> keep(inShape.size(), 0), newIndex(inShape.size(), 0);
  Shape dims;
  for (size_t d = 0; d < inShape.size(); ++d)
    if (inShape[d] != 1) {
      keep[d] = 1;
      newIndex[d] = dims.size();
      dims.push_back(inShape[d]);
    }
  std::vector<size_t> p;
  for (size_t k = 0; k < perm.size(); ++k)
    if (keep[perm[k]]) p.push_back(newIndex[perm[k]]);
  // Merge runs p[k], p[k]+1, ... into one dim.
  Shape mergedDims;
  std::vector<size_t> mergedOfInput(dims.size(), 0), runs;  // runs: first input dim of each output run
  for (size_t k = 0; k < p.size();) {
    size_t j = k + 1;
    while (j < p.size() && p[j] == p[j - 1] + 1) ++j;
    runs.push_back(p[k]);
    for (size_t t = k; t < j; ++t) mergedOfInput[p[t]] = runs.size() - 1;
    k = j;
  }
  // Input order of the runs gives the merged input shape.
  std::vector<size_t> runOrder(runs.size());
  for (size_t i = 0; i < runs.size(); ++i) runOrder[i] = i;
  std::sort(runOrder.begin(), runOrder.end(), [&](size_t a, size_t b) { return runs[a] < runs[b]; });
  Shape mShape(runs.size(), 1);
  std::vector<size_t> runInputPos(runs.size());
  for (size_t i = 0; i < runOrder.size(); ++i) runInputPos[runOrder[i]] = i;
  for (size_t d = 0; d < dims.size(); ++d) mShape[runInputPos[mergedOfInput[d]]] *= dims[d];
  std::vector<size_t> mPerm(runs.size());
  for (size_t k = 0; k < runs.size(); ++k) mPerm[k] = runInputPos[k];
  const size_t r = mShape.size();
  bool identity = true;
  for (size_t k = 0; k < r; ++k) identity = identity && mPerm[k] == k;
  if (identity || r <= 1) {
    std::memcpy(out, in, n * sizeof(T));
    return;
  }
  if (r == 2) {  // [R, C] -> [C, R]
    transpose2d(in, mShape[0], mShape[1], out);
    return;
  }
  if (r == 3 && mPerm[0] == 0 && mPerm[1] == 2 && mPerm[2] == 1) {  // batched
    const size_t mat = mShape[1] * mShape[2];
    for (size_t b = 0; b < mShape[0]; ++b) transpose2d(in + b * mat, mShape[1], mShape[2], out + b * mat);
    return;
  }
  const Shape inStrides = stridesOf(mShape);
  Shape outShape(r), src(r);
  for (size_t k = 0; k < r; ++k) {
    outShape[k] = mShape[mPerm[k]];
    src[k] = inStrides[mPerm[k]];
  }
  const size_t inner = outShape[r - 1];
  const size_t innerStride = src[r - 1];
  Shape idx(r, 0);
  T* o = out;
  do {
    size_t off = 0;
    for (size_t k = 0; k + 1 < r; ++k) off += idx[k] * src[k];
    const T* q = in + off;
    if (innerStride == 1) {
      std::memcpy(o, q, inner * sizeof(T));
    } else {
      for (size_t i = 0; i < inner; ++i) o[i] = q[i * innerStride];
    }
    o += inner;
  } while (nextIndex(idx, outShape, r - 1));
}

}  // namespace

void transpose(const void* in, const Shape& inShape, const std::vector<size_t>& perm, void* out, size_t elem) {
  if (elem == 1)
    transposeT(static_cast<const uint8_t*>(in), inShape, perm, static_cast<uint8_t*>(out));
  else
    transposeT(static_cast<const float*>(in), inShape, perm, static_cast<float*>(out));
}

void slice(const void* in, const Shape& inShape, const Shape& offsets, const Shape& outShape, void* out,
           size_t elem) {
  const Shape st = stridesOf(inShape);
  size_t base = 0;
  for (size_t k = 0; k < inShape.size(); ++k) base += offsets[k] * st[k];
  copyBlock(static_cast<const uint8_t*>(in), st, base, static_cast<uint8_t*>(out), stridesOf(outShape), 0, outShape,
            elem);
}

void concat(const std::vector<const void*>& ins, const std::vector<Shape>& shapes, size_t axis, void* out,
            size_t elem) {
  const Shape& s0 = shapes[0];
  size_t outer = 1, innerAfter = 1;
  for (size_t k = 0; k < axis; ++k) outer *= s0[k];
  for (size_t k = axis + 1; k < s0.size(); ++k) innerAfter *= s0[k];
  uint8_t* o = static_cast<uint8_t*>(out);
  for (size_t i = 0; i < outer; ++i) {
    for (size_t j = 0; j < ins.size(); ++j) {
      const size_t chunk = shapes[j][axis] * innerAfter * elem;
      if (chunk == 0) continue;
      std::memcpy(o, static_cast<const uint8_t*>(ins[j]) + i * chunk, chunk);
      o += chunk;
    }
  }
}

void constantPad(const float* in, const Shape& inShape, const Shape& pre, const Shape& outShape, float value,
                 float* out) {
  const size_t total = numelOf(outShape);
  std::fill(out, out + total, value);
  const Shape os = stridesOf(outShape);
  size_t base = 0;
  for (size_t k = 0; k < inShape.size(); ++k) base += pre[k] * os[k];
  copyBlock(reinterpret_cast<const uint8_t*>(in), stridesOf(inShape), 0, reinterpret_cast<uint8_t*>(out), os, base,
            inShape, sizeof(float));
}

void unary(Unary op, const float* in, float* out, size_t n, float alpha, float lo, float hi) {
  switch (op) {
    case Unary::Abs: for (size_t i = 0; i < n; ++i) out[i] = std::fabs(in[i]); break;
    case Unary::Negate: for (size_t i = 0; i < n; ++i) out[i] = -in[i]; break;
    case Unary::Square: for (size_t i = 0; i < n; ++i) out[i] = in[i] * in[i]; break;
    case Unary::Sqrt: for (size_t i = 0; i < n; ++i) out[i] = std::sqrt(in[i]); break;
    case Unary::Rsqrt: for (size_t i = 0; i < n; ++i) out[i] = 1.0f / std::sqrt(in[i]); break;
    case Unary::Floor: for (size_t i = 0; i < n; ++i) out[i] = std::floor(in[i]); break;
    case Unary::Ceil: for (size_t i = 0; i < n; ++i) out[i] = std::ceil(in[i]); break;
    case Unary::Exp: for (size_t i = 0; i < n; ++i) out[i] = std::exp(in[i]); break;
    case Unary::Log: for (size_t i = 0; i < n; ++i) out[i] = std::log(in[i]); break;
    case Unary::Sin: for (size_t i = 0; i < n; ++i) out[i] = std::sin(in[i]); break;
    case Unary::Cos: for (size_t i = 0; i < n; ++i) out[i] = std::cos(in[i]); break;
    case Unary::Tanh: for (size_t i = 0; i < n; ++i) out[i] = std::tanh(in[i]); break;
    case Unary::Sigmoid:
      for (size_t i = 0; i < n; ++i) {
        const float x = in[i];
        if (x >= 0) {
          out[i] = 1.0f / (1.0f + std::exp(-x));
        } else {
          const float e = std::exp(x);
          out[i] = e / (1.0f + e);
        }
      }
      break;
    case Unary::Gelu:
      for (size_t i = 0; i < n; ++i) {
        const double x = in[i];
        out[i] = static_cast<float>(0.5 * x * (1.0 + std::erf(x * 0.70710678118654752440)));
      }
      break;
    case Unary::Hardswish:
      for (size_t i = 0; i < n; ++i) {
        const float x = in[i];
        out[i] = x * clampf(x + 3.0f, 0.0f, 6.0f) * (1.0f / 6.0f);
      }
      break;
    case Unary::LeakyRelu:
      for (size_t i = 0; i < n; ++i) out[i] = in[i] >= 0 ? in[i] : in[i] * alpha;
      break;
    case Unary::Elu:
      for (size_t i = 0; i < n; ++i) out[i] = in[i] > 0 ? in[i] : alpha * std::expm1(in[i]);
      break;
    case Unary::Clamp:
      for (size_t i = 0; i < n; ++i) out[i] = clampf(in[i], lo, hi);
      break;
    case Unary::Copy:
      if (n) std::memcpy(out, in, n * sizeof(float));
      break;
  }
}

void binary(Binary op, const float* a, const Shape& aShape, const float* b, const Shape& bShape, float* out,
            const Shape& outShape, float lo, float hi) {
  switch (op) {
    case Binary::Add:
      binaryLoop(a, aShape, b, bShape, out, outShape, [=](float x, float y) { return clampf(x + y, lo, hi); });
      break;
    case Binary::Sub:
      binaryLoop(a, aShape, b, bShape, out, outShape, [=](float x, float y) { return clampf(x - y, lo, hi); });
      break;
    case Binary::Mul:
      binaryLoop(a, aShape, b, bShape, out, outShape, [=](float x, float y) { return clampf(x * y, lo, hi); });
      break;
    case Binary::Div:
      binaryLoop(a, aShape, b, bShape, out, outShape, [=](float x, float y) { return clampf(x / y, lo, hi); });
      break;
    case Binary::Min:
      binaryLoop(a, aShape, b, bShape, out, outShape, [](float x, float y) { return std::fmin(x, y); });
      break;
    case Binary::Max:
      binaryLoop(a, aShape, b, bShape, out, outShape, [](float x, float y) { return std::fmax(x, y); });
      break;
    case Binary::PRelu:
      binaryLoop(a, aShape, b, bShape, out, outShape, [](float x, float s) { return x >= 0 ? x : x * s; });
      break;
  }
}

void fullyConnected(const float* x, const float* w, const float* bias, float* out, size_t m, size_t k, size_t n,
                    bool wTransposed, float lo, float hi) {
  for (size_t i = 0; i < m; ++i) {
    const float* xr = x + i * k;
    float* o = out + i * n;
    if (!wTransposed) {
      for (size_t j = 0; j < n; ++j) {
        const float* wr = w + j * k;
        float acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
        size_t t = 0;
        for (; t + 4 <= k; t += 4) {
          acc0 += xr[t] * wr[t];
          acc1 += xr[t + 1] * wr[t + 1];
          acc2 += xr[t + 2] * wr[t + 2];
          acc3 += xr[t + 3] * wr[t + 3];
        }
        for (; t < k; ++t) acc0 += xr[t] * wr[t];
        o[j] = (acc0 + acc1) + (acc2 + acc3);
      }
    } else {
      std::fill(o, o + n, 0.0f);
      for (size_t t = 0; t < k; ++t) {
        const float xv = xr[t];
        const float* wr = w + t * n;
        for (size_t j = 0; j < n; ++j) o[j] += xv * wr[j];
      }
    }
    for (size_t j = 0; j < n; ++j) o[j] = clampf(o[j] + (bias ? bias[j] : 0.0f), lo, hi);
  }
}

void batchMatmul(const float* a, const Shape& aShape, const float* b, const Shape& bShape, float* out,
                 const Shape& outShape, bool bTransposed) {
  const size_t r = outShape.size();
  const size_t M = outShape[r - 2], N = outShape[r - 1];
  const size_t K = aShape[aShape.size() - 1];
  const size_t batchRank = r - 2;
  const Shape batchOut(outShape.begin(), outShape.begin() + static_cast<std::ptrdiff_t>(batchRank));
  const Shape batchA(aShape.begin(), aShape.end() - 2);
  const Shape batchB(bShape.begin(), bShape.end() - 2);
  const Shape sa = batchRank ? broadcastStrides(batchA, batchOut) : Shape();
  const Shape sb = batchRank ? broadcastStrides(batchB, batchOut) : Shape();
  const size_t matA = M * K, matB = K * N, matO = M * N;
  const size_t batches = numelOf(batchOut);
  Shape idx(batchRank, 0);
  for (size_t bi = 0; bi < batches; ++bi) {
    size_t offA = 0, offB = 0;
    for (size_t k = 0; k < batchRank; ++k) {
      offA += idx[k] * sa[k];
      offB += idx[k] * sb[k];
    }
    const float* pa = a + offA * matA;
    const float* pb = b + offB * matB;
    float* po = out + bi * matO;
    // pb is [K][N] (or [N][K] transposed): both reuse the FC loops.
    fullyConnected(pa, pb, nullptr, po, M, K, N, !bTransposed, -INFINITY, INFINITY);
    if (batchRank) nextIndex(idx, batchOut, batchRank);
  }
}

namespace {

// Calls tap(ky, kx, pixel) for each kernel tap of output position (b, oy, ox) that
// lands inside the [h, w] input (padding is skipped), in row-major tap order;
// pixel = (b * h + iy) * w + ix.
template <typename F>
void forEachTap(const Conv2dParams& p, size_t h, size_t w, size_t b, size_t oy, size_t ox, F tap) {
  for (size_t ky = 0; ky < p.kh; ++ky) {
    const ptrdiff_t iy = static_cast<ptrdiff_t>(oy * p.sh + ky * p.dh) - static_cast<ptrdiff_t>(p.pt);
    if (iy < 0 || iy >= static_cast<ptrdiff_t>(h)) continue;
    for (size_t kx = 0; kx < p.kw; ++kx) {
      const ptrdiff_t ix = static_cast<ptrdiff_t>(ox * p.sw + kx * p.dw) - static_cast<ptrdiff_t>(p.pl);
      if (ix < 0 || ix >= static_cast<ptrdiff_t>(w)) continue;
      tap(ky, kx, (b * h + static_cast<size_t>(iy)) * w + static_cast<size_t>(ix));
    }
  }
}

}  // namespace

void conv2dNhwc(const float* in, size_t n, size_t h, size_t w, const float* filter, const float* bias,
                const Conv2dParams& p, float* out, size_t oh, size_t ow, float lo, float hi) {
  const size_t inC = p.depthwise ? p.groups : p.groups * p.gic;
  const size_t outC = p.groups * p.goc;
  std::vector<float> acc(outC);
  for (size_t b = 0; b < n; ++b)
    for (size_t oy = 0; oy < oh; ++oy)
      for (size_t ox = 0; ox < ow; ++ox) {
        for (size_t c = 0; c < outC; ++c) acc[c] = bias ? bias[c] : 0.0f;
        forEachTap(p, h, w, b, oy, ox, [&](size_t ky, size_t kx, size_t pixel) {
          const float* px = in + pixel * inC;
          if (p.depthwise) {
            const float* f = filter + (ky * p.kw + kx) * outC;
            for (size_t c = 0; c < p.groups; ++c)
              for (size_t m = 0; m < p.goc; ++m) acc[c * p.goc + m] += px[c] * f[c * p.goc + m];
          } else {
            for (size_t g = 0; g < p.groups; ++g)
              for (size_t o = 0; o < p.goc; ++o) {
                const size_t oc = g * p.goc + o;
                const float* f = filter + ((oc * p.kh + ky) * p.kw + kx) * p.gic;
                const float* xi = px + g * p.gic;
                float s = 0;
                for (size_t i = 0; i < p.gic; ++i) s += xi[i] * f[i];
                acc[oc] += s;
              }
          }
        });
        float* po = out + ((b * oh + oy) * ow + ox) * outC;
        for (size_t c = 0; c < outC; ++c) po[c] = clampf(acc[c], lo, hi);
      }
}

void pool2dNhwc(bool isMax, const float* in, size_t n, size_t h, size_t w, size_t c, const Conv2dParams& p,
                float* out, size_t oh, size_t ow, float lo, float hi) {
  std::vector<float> acc(c);
  for (size_t b = 0; b < n; ++b)
    for (size_t oy = 0; oy < oh; ++oy)
      for (size_t ox = 0; ox < ow; ++ox) {
        std::fill(acc.begin(), acc.end(), isMax ? -INFINITY : 0.0f);
        size_t count = 0;
        forEachTap(p, h, w, b, oy, ox, [&](size_t, size_t, size_t pixel) {
          const float* px = in + pixel * c;
          ++count;
          if (isMax) {
            for (size_t k = 0; k < c; ++k) acc[k] = std::max(acc[k], px[k]);
          } else {
            for (size_t k = 0; k < c; ++k) acc[k] += px[k];
          }
        });
        float* po = out + ((b * oh + oy) * ow + ox) * c;
        const float scale = (!isMax && count) ? 1.0f / static_cast<float>(count) : 1.0f;
        for (size_t k = 0; k < c; ++k) po[k] = clampf(isMax ? acc[k] : acc[k] * scale, lo, hi);
      }
}

void globalAvgPool(const float* in, size_t n, size_t hw, size_t c, float* out, float lo, float hi) {
  // Row after row into per-channel f32 accumulators (the same order as current XNNPACK's
  // mean), vectorized across channels.
  const float scale = hw ? 1.0f / static_cast<float>(hw) : 0.0f;
  for (size_t b = 0; b < n; ++b) {
    float* acc = out + b * c;
    std::fill(acc, acc + c, 0.0f);
    for (size_t i = 0; i < hw; ++i) {
      const float* px = in + (b * hw + i) * c;
      for (size_t k = 0; k < c; ++k) acc[k] += px[k];
    }
    for (size_t k = 0; k < c; ++k) acc[k] = clampf(acc[k] * scale, lo, hi);
  }
}

void softmax(const float* in, size_t rows, size_t channels, float* out) {
  for (size_t r = 0; r < rows; ++r) {
    const float* x = in + r * channels;
    float* y = out + r * channels;
    float m = -INFINITY;
    for (size_t k = 0; k < channels; ++k) m = std::max(m, x[k]);
    double sum = 0;
    for (size_t k = 0; k < channels; ++k) {
      y[k] = std::exp(x[k] - m);
      sum += y[k];
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (size_t k = 0; k < channels; ++k) y[k] *= inv;
  }
}

// ---------------------------------------------------------------------------
// Transposed convolution

void deconv2dNhwc(const float* in, size_t n, size_t h, size_t w, const float* filter, const float* bias,
                  const Conv2dParams& p, float* out, size_t oh, size_t ow, float lo, float hi) {
  const size_t inC = p.groups * p.gic, outC = p.groups * p.goc;
  for (size_t i = 0; i < n * oh * ow; ++i)
    for (size_t c = 0; c < outC; ++c) out[i * outC + c] = bias ? bias[c] : 0.0f;
  // Each input pixel scatters kh x kw taps; a tap lands on output (iy*sh + ky*dh - pt, ix*sw + kx*dw - pl).
  for (size_t b = 0; b < n; ++b)
    for (size_t iy = 0; iy < h; ++iy)
      for (size_t ix = 0; ix < w; ++ix) {
        const float* px = in + ((b * h + iy) * w + ix) * inC;
        for (size_t ky = 0; ky < p.kh; ++ky) {
          const ptrdiff_t oy = static_cast<ptrdiff_t>(iy * p.sh + ky * p.dh) - static_cast<ptrdiff_t>(p.pt);
          if (oy < 0 || oy >= static_cast<ptrdiff_t>(oh)) continue;
          for (size_t kx = 0; kx < p.kw; ++kx) {
            const ptrdiff_t ox = static_cast<ptrdiff_t>(ix * p.sw + kx * p.dw) - static_cast<ptrdiff_t>(p.pl);
            if (ox < 0 || ox >= static_cast<ptrdiff_t>(ow)) continue;
            float* po = out + ((b * oh + static_cast<size_t>(oy)) * ow + static_cast<size_t>(ox)) * outC;
            for (size_t g = 0; g < p.groups; ++g)
              for (size_t o = 0; o < p.goc; ++o) {
                const size_t oc = g * p.goc + o;
                const float* f = filter + ((oc * p.kh + ky) * p.kw + kx) * p.gic;
                const float* xi = px + g * p.gic;
                float s = 0;
                for (size_t i = 0; i < p.gic; ++i) s += xi[i] * f[i];
                po[oc] += s;
              }
          }
        }
      }
  for (size_t i = 0; i < n * oh * ow * outC; ++i) out[i] = clampf(out[i], lo, hi);
}

// ---------------------------------------------------------------------------
// float16 / bfloat16 values held as float32

#ifdef ETN_XNNK_X86
namespace {
__attribute__((target("avx,f16c"))) void roundFp16F16c(float* x, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm256_storeu_ps(x + i, _mm256_cvtph_ps(h));
  }
  for (; i < n; ++i) x[i] = halfToFloat(floatToHalf(x[i]));
}
bool haveF16c() {
  static const bool yes = __builtin_cpu_supports("avx") && __builtin_cpu_supports("f16c");
  return yes;
}
}  // namespace
#endif

void roundToFp16(float* x, size_t n) {
#ifdef ETN_XNNK_X86
  if (haveF16c()) {
    roundFp16F16c(x, n);
    return;
  }
#endif
  for (size_t i = 0; i < n; ++i) x[i] = halfToFloat(floatToHalf(x[i]));
}

void roundToBf16(float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] = bf16ToFloat(floatToBf16(x[i]));
}

void fp16ToFloat(const uint16_t* in, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = halfToFloat(in[i]);
}
void bf16ToFloatArray(const uint16_t* in, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = bf16ToFloat(in[i]);
}
void floatToFp16(const float* in, uint16_t* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = floatToHalf(in[i]);
}
void floatToBf16Array(const float* in, uint16_t* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = floatToBf16(in[i]);
}

// ---------------------------------------------------------------------------
// Static int8

void conv2dQs8(const int8_t* in, size_t n, size_t h, size_t w, const int8_t* filter, const int32_t* bias,
               const Conv2dParams& p, const QConvParams& q, int8_t* out, size_t oh, size_t ow) {
  const size_t inC = p.depthwise ? p.groups : p.groups * p.gic;
  const size_t outC = p.groups * p.goc;
  const float lo = static_cast<float>(q.qmin - q.ozp), hi = static_cast<float>(q.qmax - q.ozp);
  std::vector<int32_t> acc(outC);
  for (size_t b = 0; b < n; ++b)
    for (size_t oy = 0; oy < oh; ++oy)
      for (size_t ox = 0; ox < ow; ++ox) {
        for (size_t c = 0; c < outC; ++c) acc[c] = bias ? bias[c] : 0;
        // Taps in the padding read the input zero point: they add nothing.
        forEachTap(p, h, w, b, oy, ox, [&](size_t ky, size_t kx, size_t pixel) {
          const int8_t* px = in + pixel * inC;
          if (p.depthwise) {
            const int8_t* f = filter + (ky * p.kw + kx) * outC;
            for (size_t c = 0; c < p.groups; ++c)
              for (size_t m = 0; m < p.goc; ++m)
                acc[c * p.goc + m] += (int32_t(px[c]) - q.izp) * int32_t(f[c * p.goc + m]);
          } else {
            for (size_t g = 0; g < p.groups; ++g)
              for (size_t o = 0; o < p.goc; ++o) {
                const size_t oc = g * p.goc + o;
                const int8_t* f = filter + ((oc * p.kh + ky) * p.kw + kx) * p.gic;
                const int8_t* xi = px + g * p.gic;
                int32_t s = 0;
                for (size_t i = 0; i < p.gic; ++i) s += (int32_t(xi[i]) - q.izp) * int32_t(f[i]);
                acc[oc] += s;
              }
          }
        });
        int8_t* po = out + ((b * oh + oy) * ow + ox) * outC;
        // XNNPACK's fp32 requantization: scale in float, clamp, round to nearest even, add the zero point.
        for (size_t c = 0; c < outC; ++c) {
          const float v = clampf(static_cast<float>(acc[c]) * q.scale[c], lo, hi);
          po[c] = static_cast<int8_t>(static_cast<int32_t>(std::nearbyint(v)) + q.ozp);
        }
      }
}

bool qs8AddParams(float aScale, int32_t aZp, float bScale, int32_t bZp, float outScale, int32_t outZp, int8_t qmin,
                  int8_t qmax, QAddParams* out) {
  const float aRatio = aScale / outScale, bRatio = bScale / outScale;
  if (!(aRatio >= 0x1.0p-10f && aRatio < 0x1.0p+8f && bRatio >= 0x1.0p-10f && bRatio < 0x1.0p+8f)) return false;
  const float maxRatio = std::max(aRatio, bRatio);
  int exponent = 0;
  std::frexp(maxRatio, &exponent);  // maxRatio = m * 2^exponent, m in [0.5, 1): IEEE exponent = exponent - 1
  const int shift = 20 - (exponent - 1);
  out->aMultiplier = static_cast<int32_t>(std::nearbyint(std::ldexp(aRatio, shift)));
  out->bMultiplier = static_cast<int32_t>(std::nearbyint(std::ldexp(bRatio, shift)));
  out->shift = shift;
  out->bias = (int32_t(1) << (shift - 1)) - out->aMultiplier * aZp - out->bMultiplier * bZp;
  out->ozp = outZp;
  out->qmin = qmin;
  out->qmax = qmax;
  return true;
}

void addQs8(const int8_t* a, const Shape& aShape, const int8_t* b, const Shape& bShape, int8_t* out,
            const Shape& outShape, const QAddParams& q) {
  binaryLoop(a, aShape, b, bShape, out, outShape, [&](int8_t x, int8_t y) {
    const int32_t acc = q.bias + int32_t(x) * q.aMultiplier + int32_t(y) * q.bMultiplier;
    const int32_t v = (acc >> q.shift) + q.ozp;  // arithmetic shift: floor of acc / 2^shift
    return static_cast<int8_t>(std::min<int32_t>(q.qmax, std::max<int32_t>(q.qmin, v)));
  });
}

void globalAvgPoolS8(const int8_t* in, size_t n, size_t hw, size_t c, float inScale, int32_t izp, float outScale,
                     int32_t ozp, int8_t qmin, int8_t qmax, int8_t* out) {
  const float scale = hw ? inScale / (outScale * static_cast<float>(hw)) : 0.0f;
  const float lo = static_cast<float>(qmin - ozp), hi = static_cast<float>(qmax - ozp);
  std::vector<int64_t> acc(c);
  for (size_t b = 0; b < n; ++b) {
    std::fill(acc.begin(), acc.end(), 0);
    for (size_t i = 0; i < hw; ++i) {
      const int8_t* px = in + (b * hw + i) * c;
      for (size_t k = 0; k < c; ++k) acc[k] += int32_t(px[k]) - izp;
    }
    for (size_t k = 0; k < c; ++k) {
      const float v = clampf(static_cast<float>(acc[k]) * scale, lo, hi);
      out[b * c + k] = static_cast<int8_t>(static_cast<int32_t>(std::nearbyint(v)) + ozp);
    }
  }
}

void maxPool2dS8(const int8_t* in, size_t n, size_t h, size_t w, size_t c, const Conv2dParams& p, int8_t* out,
                 size_t oh, size_t ow, int8_t qmin, int8_t qmax) {
  std::vector<int8_t> acc(c);
  for (size_t b = 0; b < n; ++b)
    for (size_t oy = 0; oy < oh; ++oy)
      for (size_t ox = 0; ox < ow; ++ox) {
        std::fill(acc.begin(), acc.end(), int8_t(-128));
        forEachTap(p, h, w, b, oy, ox, [&](size_t, size_t, size_t pixel) {
          const int8_t* px = in + pixel * c;
          for (size_t k = 0; k < c; ++k) acc[k] = std::max(acc[k], px[k]);
        });
        int8_t* po = out + ((b * oh + oy) * ow + ox) * c;
        for (size_t k = 0; k < c; ++k) po[k] = std::min(qmax, std::max(qmin, acc[k]));
      }
}

}  // namespace xnnk
}  // namespace etn
