// AVX2 + FMA f32_qc8w kernel: two ymm hold the 16 channels of a tile. Per input
// channel k: two 8-byte loads sign-extended to int32 (vpmovsxbd), converted to f32,
// then two FMAs per row with the row's activation broadcast. Rows are taken 4 at a
// time (8 accumulators + 2 weight vectors + a broadcast fit the 16 registers); with
// fewer rows the k loop keeps several partial sums per row to hide the FMA latency.
// Only called when cpu_features() reports AVX2 + FMA with OS support.
#include "f32_qc8w_gemm_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#define ETN_AVX2_FN __attribute__((target("avx2,fma")))
#define ETN_AVX2_INLINE static inline __attribute__((always_inline, target("avx2,fma")))

namespace etn::mk::detail {
namespace {

constexpr size_t kTileN = kF32QC8WTileN;

ETN_AVX2_INLINE __m256 load_w8(const uint8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

constexpr int chains_for(int mr) { return mr == 1 ? 4 : mr == 2 ? 2 : 1; }

template <int MR>
ETN_AVX2_FN void rows(const F32QC8WArgs& g, const uint8_t* tile, size_t m0, size_t n0, size_t nv) {
  constexpr int CH = chains_for(MR);
  constexpr int S = 4;  // k per main-loop step: one 64-byte line
  const F32QC8WWeights& w = *g.w;
  const size_t k = w.k;
  const float* x[MR];
  __m256 acc[CH][MR][2];
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r) x[r] = g.x + (m0 + r) * g.x_stride;
#pragma GCC unroll 4
  for (int c = 0; c < CH; ++c)
#pragma GCC unroll 4
    for (int r = 0; r < MR; ++r) acc[c][r][0] = acc[c][r][1] = _mm256_setzero_ps();
  size_t kk = 0;
  for (; kk + S <= k; kk += S) {
    const uint8_t* p = tile + kk * kTileN;
    _mm_prefetch(reinterpret_cast<const char*>(p) + kF32QC8WPrefetchBytes, _MM_HINT_T0);
#pragma GCC unroll 4
    for (int j = 0; j < S; ++j) {
      const __m256 w0 = load_w8(p + j * kTileN), w1 = load_w8(p + j * kTileN + 8);
#pragma GCC unroll 4
      for (int r = 0; r < MR; ++r) {
        const __m256 xv = _mm256_broadcast_ss(x[r] + kk + j);
        acc[j % CH][r][0] = _mm256_fmadd_ps(xv, w0, acc[j % CH][r][0]);
        acc[j % CH][r][1] = _mm256_fmadd_ps(xv, w1, acc[j % CH][r][1]);
      }
    }
  }
  for (; kk < k; ++kk) {
    const __m256 w0 = load_w8(tile + kk * kTileN), w1 = load_w8(tile + kk * kTileN + 8);
#pragma GCC unroll 4
    for (int r = 0; r < MR; ++r) {
      const __m256 xv = _mm256_broadcast_ss(x[r] + kk);
      acc[0][r][0] = _mm256_fmadd_ps(xv, w0, acc[0][r][0]);
      acc[0][r][1] = _mm256_fmadd_ps(xv, w1, acc[0][r][1]);
    }
  }
  const float* scales = reinterpret_cast<const float*>(tile + w.off_scales);
  const float* bias = reinterpret_cast<const float*>(tile + w.off_bias);
  const __m256 lo = _mm256_set1_ps(g.out_min), hi = _mm256_set1_ps(g.out_max);
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r) {
    alignas(32) float v[kTileN];
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      // Pairwise sum of the chains (a fixed order: results do not depend on threads).
#pragma GCC unroll 4
      for (int step = 1; step < CH; step *= 2)
#pragma GCC unroll 4
        for (int c = 0; c + step < CH; c += 2 * step) acc[c][r][h] = _mm256_add_ps(acc[c][r][h], acc[c + step][r][h]);
      __m256 y = _mm256_mul_ps(_mm256_add_ps(acc[0][r][h], _mm256_load_ps(bias + 8 * h)), _mm256_load_ps(scales + 8 * h));
      y = _mm256_min_ps(_mm256_max_ps(y, lo), hi);
      _mm256_store_ps(v + 8 * h, y);
    }
    std::memcpy(g.out + (m0 + r) * g.out_stride + n0, v, nv * sizeof(float));
  }
}

ETN_AVX2_FN void kernel(const F32QC8WArgs& g, size_t m0, size_t mc, size_t t0, size_t tc) {
  const F32QC8WWeights& w = *g.w;
  for (size_t t = t0; t < t0 + tc; ++t) {
    const uint8_t* tile = w.tile(t);
    const size_t n0 = t * kTileN, nv = std::min(kTileN, w.n - n0);
    size_t m = m0;
    const size_t end = m0 + mc;
    for (; m + 4 <= end; m += 4) rows<4>(g, tile, m, n0, nv);
    switch (end - m) {
      case 3: rows<3>(g, tile, m, n0, nv); break;
      case 2: rows<2>(g, tile, m, n0, nv); break;
      case 1: rows<1>(g, tile, m, n0, nv); break;
      default: break;
    }
  }
}

}  // namespace

F32QC8WKernelFn f32_qc8w_avx2_kernel() { return kernel; }

}  // namespace etn::mk::detail

#else

namespace etn::mk::detail {
F32QC8WKernelFn f32_qc8w_avx2_kernel() { return nullptr; }
}  // namespace etn::mk::detail

#endif
