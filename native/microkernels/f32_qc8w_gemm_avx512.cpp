// AVX-512 f32_qc8w kernel: one zmm holds the 16 channels of a tile. Per input channel
// k: one 16-byte load sign-extended to int32 (vpmovsxbd), converted to f32
// (vcvtdq2ps), then one FMA per row with the row's activation broadcast from memory.
// Rows are taken 8 at a time (prefill: the conversion is shared by 8 FMAs, FMA
// bound); with fewer rows the k loop keeps several independent partial sums per row
// (decode, M = 1: 8 chains, so the 4-cycle FMA latency does not limit the stream).
// Only called when cpu_features() reports AVX-512 F/BW/VL/VNNI with OS support;
// compiled with per-function target attributes, no global -m flags.
#include "f32_qc8w_gemm_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include <algorithm>

// GCC 12 flags the _mm512_undefined_*() inside its own AVX-512 intrinsics.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#define ETN_AVX512_FN __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma")))
#define ETN_AVX512_INLINE static inline __attribute__((always_inline, target("avx512f,avx512bw,avx512vl,avx2,fma")))

namespace etn::mk::detail {
namespace {

constexpr size_t kTileN = kF32QC8WTileN;

ETN_AVX512_INLINE __m512 load_w(const uint8_t* p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(p))));
}

// Partial sums per row: enough independent FMA chains in flight for MR rows.
constexpr int chains_for(int mr) { return mr == 1 ? 8 : mr == 2 ? 4 : mr <= 4 ? 2 : 1; }

template <int MR>
ETN_AVX512_FN void rows(const F32QC8WArgs& g, const uint8_t* tile, size_t m0, size_t n0, size_t nv) {
  constexpr int CH = chains_for(MR);
  constexpr int S = CH > 4 ? CH : 4;  // k per main-loop step: whole 64-byte lines
  const F32QC8WWeights& w = *g.w;
  const size_t k = w.k;
  const float* x[MR];
  __m512 acc[CH][MR];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) x[r] = g.x + (m0 + r) * g.x_stride;
#pragma GCC unroll 8
  for (int c = 0; c < CH; ++c)
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) acc[c][r] = _mm512_setzero_ps();
  size_t kk = 0;
  for (; kk + S <= k; kk += S) {
    const uint8_t* p = tile + kk * kTileN;
#pragma GCC unroll 2
    for (int l = 0; l < S / 4; ++l)
      _mm_prefetch(reinterpret_cast<const char*>(p) + kF32QC8WPrefetchBytes + 64 * l, _MM_HINT_T0);
#pragma GCC unroll 8
    for (int j = 0; j < S; ++j) {
      const __m512 wv = load_w(p + j * kTileN);
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) acc[j % CH][r] = _mm512_fmadd_ps(_mm512_set1_ps(x[r][kk + j]), wv, acc[j % CH][r]);
    }
  }
  for (; kk < k; ++kk) {
    const __m512 wv = load_w(tile + kk * kTileN);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) acc[0][r] = _mm512_fmadd_ps(_mm512_set1_ps(x[r][kk]), wv, acc[0][r]);
  }
  const __m512 scale = _mm512_load_ps(reinterpret_cast<const float*>(tile + w.off_scales));
  const __m512 bias = _mm512_load_ps(reinterpret_cast<const float*>(tile + w.off_bias));
  const __m512 lo = _mm512_set1_ps(g.out_min), hi = _mm512_set1_ps(g.out_max);
  const __mmask16 mask = nv >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << nv) - 1);
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    // Pairwise sum of the chains (a fixed order: results do not depend on threads).
#pragma GCC unroll 4
    for (int step = 1; step < CH; step *= 2)
#pragma GCC unroll 4
      for (int c = 0; c + step < CH; c += 2 * step) acc[c][r] = _mm512_add_ps(acc[c][r], acc[c + step][r]);
    __m512 v = _mm512_mul_ps(_mm512_add_ps(acc[0][r], bias), scale);
    v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
    _mm512_mask_storeu_ps(g.out + (m0 + r) * g.out_stride + n0, mask, v);
  }
}

ETN_AVX512_FN void kernel(const F32QC8WArgs& g, size_t m0, size_t mc, size_t t0, size_t tc) {
  const F32QC8WWeights& w = *g.w;
  for (size_t t = t0; t < t0 + tc; ++t) {
    const uint8_t* tile = w.tile(t);
    const size_t n0 = t * kTileN, nv = std::min(kTileN, w.n - n0);
    size_t m = m0;
    const size_t end = m0 + mc;
    for (; m + 8 <= end; m += 8) rows<8>(g, tile, m, n0, nv);
    switch (end - m) {
      case 7: rows<7>(g, tile, m, n0, nv); break;
      case 6: rows<6>(g, tile, m, n0, nv); break;
      case 5: rows<5>(g, tile, m, n0, nv); break;
      case 4: rows<4>(g, tile, m, n0, nv); break;
      case 3: rows<3>(g, tile, m, n0, nv); break;
      case 2: rows<2>(g, tile, m, n0, nv); break;
      case 1: rows<1>(g, tile, m, n0, nv); break;
      default: break;
    }
  }
}

}  // namespace

F32QC8WKernelFn f32_qc8w_avx512_kernel() { return kernel; }

}  // namespace etn::mk::detail

#else

namespace etn::mk::detail {
F32QC8WKernelFn f32_qc8w_avx512_kernel() { return nullptr; }
}  // namespace etn::mk::detail

#endif
