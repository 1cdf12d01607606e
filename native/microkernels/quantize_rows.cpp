#include "quantize_rows.h"

#include <cmath>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define ETN_MK_X86 1
// GCC 12 flags the _mm512_undefined_*() inside its own AVX-512 intrinsics.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define ETN_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define ETN_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma")))
#else
#define ETN_MK_X86 0
#endif

namespace etn::mk {

QD8Params qd8_params(float min, float max) {
  const float qmin = -128.0f, qmax = 127.0f;
  const float rmin = min < 0.0f ? min : 0.0f;
  const float rmax = max > 0.0f ? max : 0.0f;
  const float m = rmin == rmax ? 1.0f : (qmax - qmin) / (rmax - rmin);
  const float dmin = rmin * m;
  const float dmax = rmax * m;
  const float from_min = qmin + dmin;
  const float from_max = qmax + dmax;
  float zp = from_min + from_max > 0.0f ? qmin - dmin : qmax - dmax;
  zp = zp < qmin ? qmin : zp;
  zp = zp > qmax ? qmax : zp;
  QD8Params p;
  p.scale = 1.0f / m;
  p.zero_point = static_cast<int32_t>(std::lrintf(zp));
  return p;
}

namespace {

struct RowQuant {
  float mult;  // 1 / scale, as XNNPACK's convert recomputes it
  float lo, hi;
  int32_t zp;
};

RowQuant row_quant(const QD8Params& p) {
  RowQuant r;
  r.mult = 1.0f / p.scale;
  r.zp = p.zero_point;
  r.lo = static_cast<float>(-128 - p.zero_point);
  r.hi = static_cast<float>(127 - p.zero_point);
  return r;
}

inline int8_t quantize_one(float x, const RowQuant& r) {
  float v = x * r.mult;
  v = v < r.lo ? r.lo : v;
  v = v > r.hi ? r.hi : v;
  if (v != v) v = r.lo;  // NaN: keep it defined
  return static_cast<int8_t>(static_cast<int32_t>(std::lrintf(v)) + r.zp);
}

void row_scalar(const float* x, size_t k, int8_t* q, QD8Params* out) {
  float mn = 0.0f, mx = 0.0f;  // rmin/rmax include 0 anyway
  for (size_t i = 0; i < k; ++i) {
    mn = x[i] < mn ? x[i] : mn;
    mx = x[i] > mx ? x[i] : mx;
  }
  *out = qd8_params(mn, mx);
  const RowQuant r = row_quant(*out);
  for (size_t i = 0; i < k; ++i) q[i] = quantize_one(x[i], r);
}

#if ETN_MK_X86

ETN_TARGET_AVX2 inline __m256i cvt8_avx2(const float* p, __m256 vmult, __m256 vlo, __m256 vhi, __m256i vzp) {
  __m256 v = _mm256_mul_ps(_mm256_loadu_ps(p), vmult);
  v = _mm256_min_ps(_mm256_max_ps(v, vlo), vhi);
  return _mm256_add_epi32(_mm256_cvtps_epi32(v), vzp);
}

ETN_TARGET_AVX2 void row_avx2(const float* x, size_t k, int8_t* q, QD8Params* out) {
  __m256 vmin = _mm256_setzero_ps(), vmax = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= k; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    vmin = _mm256_min_ps(vmin, v);
    vmax = _mm256_max_ps(vmax, v);
  }
  float lanes_min[8], lanes_max[8];
  _mm256_storeu_ps(lanes_min, vmin);
  _mm256_storeu_ps(lanes_max, vmax);
  float mn = 0.0f, mx = 0.0f;
  for (int l = 0; l < 8; ++l) {
    mn = lanes_min[l] < mn ? lanes_min[l] : mn;
    mx = lanes_max[l] > mx ? lanes_max[l] : mx;
  }
  for (; i < k; ++i) {
    mn = x[i] < mn ? x[i] : mn;
    mx = x[i] > mx ? x[i] : mx;
  }
  *out = qd8_params(mn, mx);
  const RowQuant r = row_quant(*out);
  const __m256 vmult = _mm256_set1_ps(r.mult), vlo = _mm256_set1_ps(r.lo), vhi = _mm256_set1_ps(r.hi);
  const __m256i vzp = _mm256_set1_epi32(r.zp);
  const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  i = 0;
  for (; i + 32 <= k; i += 32) {
    const __m256i a = cvt8_avx2(x + i, vmult, vlo, vhi, vzp);
    const __m256i b = cvt8_avx2(x + i + 8, vmult, vlo, vhi, vzp);
    const __m256i c = cvt8_avx2(x + i + 16, vmult, vlo, vhi, vzp);
    const __m256i d = cvt8_avx2(x + i + 24, vmult, vlo, vhi, vzp);
    const __m256i ab = _mm256_packs_epi32(a, b);
    const __m256i cd = _mm256_packs_epi32(c, d);
    const __m256i abcd = _mm256_packs_epi16(ab, cd);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + i), _mm256_permutevar8x32_epi32(abcd, perm));
  }
  for (; i < k; ++i) q[i] = quantize_one(x[i], r);
}

ETN_TARGET_AVX512 void row_avx512(const float* x, size_t k, int8_t* q, QD8Params* out) {
  __m512 vmin = _mm512_setzero_ps(), vmax = _mm512_setzero_ps();
  for (size_t i = 0; i < k; i += 16) {
    const size_t left = k - i;
    const __mmask16 mask = left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
    const __m512 v = _mm512_maskz_loadu_ps(mask, x + i);  // masked-off lanes are 0: harmless
    vmin = _mm512_min_ps(vmin, v);
    vmax = _mm512_max_ps(vmax, v);
  }
  *out = qd8_params(_mm512_reduce_min_ps(vmin), _mm512_reduce_max_ps(vmax));
  const RowQuant r = row_quant(*out);
  const __m512 vmult = _mm512_set1_ps(r.mult), vlo = _mm512_set1_ps(r.lo), vhi = _mm512_set1_ps(r.hi);
  const __m512i vzp = _mm512_set1_epi32(r.zp);
  for (size_t i = 0; i < k; i += 16) {
    const size_t left = k - i;
    const __mmask16 mask = left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
    __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, x + i), vmult);
    v = _mm512_min_ps(_mm512_max_ps(v, vlo), vhi);
    const __m512i iv = _mm512_add_epi32(_mm512_cvtps_epi32(v), vzp);
    _mm512_mask_cvtepi32_storeu_epi8(q + i, mask, iv);
  }
}

#endif

}  // namespace

void quantize_rows_qd8(const float* x, size_t m, size_t k, size_t x_stride, int8_t* q, size_t q_stride,
                       QD8Params* params, Isa isa) {
  isa = resolve_isa(isa);
  void (*row)(const float*, size_t, int8_t*, QD8Params*) = row_scalar;
#if ETN_MK_X86
  if (isa == Isa::Avx512) row = row_avx512;
  else if (isa == Isa::Avx2) row = row_avx2;
#endif
  for (size_t i = 0; i < m; ++i) row(x + i * x_stride, k, q + i * q_stride, params + i);
}

}  // namespace etn::mk
