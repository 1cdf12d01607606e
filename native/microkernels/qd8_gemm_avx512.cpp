// AVX-512 VNNI qd8 GEMM kernels (vpdpbusd on zmm: 16 output channels x 4 k per
// instruction). Only called when cpu_features() reports AVX-512 F/BW/VL/VNNI with
// OS support; compiled with per-function target attributes, no global -m flags.
//
// 4-bit weights: vpdpbusd(u8 = weight nibble u = w + 8, s8 = activation a), then
//   raw - 8 * sum(a) - zp * sum(w) per block (see qd8_gemm_internal.h).
// int8 weights:  vpdpbusd(u8 = a + 128, s8 = w), then raw - (128 + zp) * sum(w).
// Each row keeps up to 4 independent accumulator chains (vpdpbusd accumulates in
// place, so a single chain would be latency bound at small M).
#include "qd8_gemm_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include <algorithm>

// GCC 12 flags the _mm512_undefined_*() inside its own AVX-512 intrinsics.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#define ETN_AVX512_FN __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")))
#define ETN_AVX512_INLINE \
  static inline __attribute__((always_inline, target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")))

namespace etn::mk::detail {
namespace {

ETN_AVX512_INLINE __m512i bcast32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// Prefetches `lines` cache lines kPrefetchBytes ahead of p.
ETN_AVX512_INLINE void prefetch(const uint8_t* p, int lines) {
  for (int i = 0; i < lines; ++i) _mm_prefetch(reinterpret_cast<const char*>(p) + kPrefetchBytes + 64 * i, _MM_HINT_T0);
}

// Applies bias, clamp, and stores the valid channels of a 16-channel row.
ETN_AVX512_INLINE void store16(const KernelArgs& g, size_t m, size_t n0, size_t nv, __m512 v) {
  v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(g.out_min)), _mm512_set1_ps(g.out_max));
  const __mmask16 mask = nv >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << nv) - 1);
  _mm512_mask_storeu_ps(g.out + m * g.out_stride + n0, mask, v);
}

constexpr int chains_for(int mr) { return mr == 1 ? 4 : (mr <= 3 ? 2 : 1); }

template <int MR, bool BLOCKWISE>
ETN_AVX512_FN void rows_4bit(const KernelArgs& g, const uint8_t* tile, size_t m0, size_t n0, size_t nv) {
  constexpr int CH = chains_for(MR);
  const PackedWeights& w = *g.w;
  const __m512i mask = _mm512_set1_epi8(0x0F);
  const int8_t* a[MR];
  const int32_t* sa8[MR];
  __m512 accf[MR];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    a[r] = reinterpret_cast<const int8_t*>(g.acts.a + (m0 + r) * g.acts.a_stride);
    sa8[r] = g.acts.sa8 + (m0 + r) * g.acts.sa_stride;
    accf[r] = _mm512_setzero_ps();
  }
  const size_t gpb = w.block_len / 8;
  for (size_t b = 0; b < w.nblocks; ++b) {
    const size_t gb = b * gpb, ge = std::min(gb + gpb, w.groups);
    const BlockView view = block_view(w, tile, b);
    __m512i acc[CH][MR];
#pragma GCC unroll 4
    for (int c = 0; c < CH; ++c)
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) acc[c][r] = _mm512_setzero_si512();
    size_t gi = gb;
    for (; gi + 2 <= ge; gi += 2) {
      const uint8_t* rec = view.records + (gi - gb) * kRecordBytes;
      prefetch(rec, 2);
      const __m512i v0 = _mm512_load_si512(rec);
      const __m512i v1 = _mm512_load_si512(rec + kRecordBytes);
      const __m512i l0 = _mm512_and_si512(v0, mask);
      const __m512i h0 = _mm512_and_si512(_mm512_srli_epi16(v0, 4), mask);
      const __m512i l1 = _mm512_and_si512(v1, mask);
      const __m512i h1 = _mm512_and_si512(_mm512_srli_epi16(v1, 4), mask);
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) {
        const int8_t* ak = a[r] + gi * 8;
        acc[0 % CH][r] = _mm512_dpbusd_epi32(acc[0 % CH][r], l0, bcast32(ak));
        acc[1 % CH][r] = _mm512_dpbusd_epi32(acc[1 % CH][r], h0, bcast32(ak + 4));
        acc[2 % CH][r] = _mm512_dpbusd_epi32(acc[2 % CH][r], l1, bcast32(ak + 8));
        acc[3 % CH][r] = _mm512_dpbusd_epi32(acc[3 % CH][r], h1, bcast32(ak + 12));
      }
    }
    if (gi < ge) {
      const __m512i v0 = _mm512_load_si512(view.records + (gi - gb) * kRecordBytes);
      const __m512i l0 = _mm512_and_si512(v0, mask);
      const __m512i h0 = _mm512_and_si512(_mm512_srli_epi16(v0, 4), mask);
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) {
        const int8_t* ak = a[r] + gi * 8;
        acc[0][r] = _mm512_dpbusd_epi32(acc[0][r], l0, bcast32(ak));
        acc[1 % CH][r] = _mm512_dpbusd_epi32(acc[1 % CH][r], h0, bcast32(ak + 4));
      }
    }
    if (BLOCKWISE) {
      const __m256i s16 =
          _mm256_load_si256(reinterpret_cast<const __m256i*>(view.scales));
      const __m512 scale = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(s16), 16));
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) {
        __m512i raw = acc[0][r];
#pragma GCC unroll 4
        for (int c = 1; c < CH; ++c) raw = _mm512_add_epi32(raw, acc[c][r]);
        raw = _mm512_sub_epi32(raw, _mm512_set1_epi32(sa8[r][b]));
        accf[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(raw), scale, accf[r]);
      }
    } else {
      const __m512i sw = _mm512_load_si512(tile + w.off_sums + b * kTileN * 4);
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) {
        __m512i raw = acc[0][r];
#pragma GCC unroll 4
        for (int c = 1; c < CH; ++c) raw = _mm512_add_epi32(raw, acc[c][r]);
        raw = _mm512_sub_epi32(raw, _mm512_set1_epi32(sa8[r][b]));
        raw = _mm512_sub_epi32(raw, _mm512_mullo_epi32(_mm512_set1_epi32(g.acts.zc[m0 + r]), sw));
        accf[r] = _mm512_add_ps(accf[r], _mm512_cvtepi32_ps(raw));
      }
    }
  }
  const __m512 bias = _mm512_load_ps(reinterpret_cast<const float*>(tile + w.off_bias));
  if (BLOCKWISE) {
    const __m512 ws = _mm512_load_ps(reinterpret_cast<const float*>(tile + w.off_sums));
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m512 v = _mm512_fnmadd_ps(_mm512_set1_ps(g.acts.zpf[m0 + r]), ws, accf[r]);
      store16(g, m0 + r, n0, nv, _mm512_fmadd_ps(v, _mm512_set1_ps(g.acts.scale[m0 + r]), bias));
    }
  } else {
    const __m512 wscale = _mm512_load_ps(reinterpret_cast<const float*>(tile + w.off_scales));
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m512 s = _mm512_mul_ps(_mm512_set1_ps(g.acts.scale[m0 + r]), wscale);
      store16(g, m0 + r, n0, nv, _mm512_fmadd_ps(accf[r], s, bias));
    }
  }
}

template <int MR>
ETN_AVX512_FN void rows_8bit(const KernelArgs& g, const uint8_t* tile, size_t m0, size_t n0, size_t nv) {
  constexpr int CH = chains_for(MR);
  const PackedWeights& w = *g.w;
  const uint8_t* a[MR];
  __m512 accf[MR];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    a[r] = g.acts.a + (m0 + r) * g.acts.a_stride;
    accf[r] = _mm512_setzero_ps();
  }
  const size_t gpb = w.block_len / 4;
  for (size_t b = 0; b < w.nblocks; ++b) {
    const size_t gb = b * gpb, ge = std::min(gb + gpb, w.groups);
    __m512i acc[CH][MR];
#pragma GCC unroll 4
    for (int c = 0; c < CH; ++c)
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) acc[c][r] = _mm512_setzero_si512();
    size_t gi = gb;
    for (; gi + 4 <= ge; gi += 4) {
      const uint8_t* rec = tile + gi * kRecordBytes;
      prefetch(rec, 4);
      const __m512i v0 = _mm512_load_si512(rec);
      const __m512i v1 = _mm512_load_si512(rec + kRecordBytes);
      const __m512i v2 = _mm512_load_si512(rec + 2 * kRecordBytes);
      const __m512i v3 = _mm512_load_si512(rec + 3 * kRecordBytes);
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) {
        const uint8_t* ak = a[r] + gi * 4;
        acc[0 % CH][r] = _mm512_dpbusd_epi32(acc[0 % CH][r], bcast32(ak), v0);
        acc[1 % CH][r] = _mm512_dpbusd_epi32(acc[1 % CH][r], bcast32(ak + 4), v1);
        acc[2 % CH][r] = _mm512_dpbusd_epi32(acc[2 % CH][r], bcast32(ak + 8), v2);
        acc[3 % CH][r] = _mm512_dpbusd_epi32(acc[3 % CH][r], bcast32(ak + 12), v3);
      }
    }
    for (; gi < ge; ++gi) {
      const __m512i v0 = _mm512_load_si512(tile + gi * kRecordBytes);
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) acc[0][r] = _mm512_dpbusd_epi32(acc[0][r], bcast32(a[r] + gi * 4), v0);
    }
    const __m512i sw = _mm512_load_si512(tile + w.off_sums + b * kTileN * 4);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      __m512i raw = acc[0][r];
#pragma GCC unroll 4
      for (int c = 1; c < CH; ++c) raw = _mm512_add_epi32(raw, acc[c][r]);
      raw = _mm512_sub_epi32(raw, _mm512_mullo_epi32(_mm512_set1_epi32(g.acts.zc[m0 + r]), sw));
      accf[r] = _mm512_add_ps(accf[r], _mm512_cvtepi32_ps(raw));
    }
  }
  const __m512 bias = _mm512_load_ps(reinterpret_cast<const float*>(tile + w.off_bias));
  const __m512 wscale = _mm512_load_ps(reinterpret_cast<const float*>(tile + w.off_scales));
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    const __m512 s = _mm512_mul_ps(_mm512_set1_ps(g.acts.scale[m0 + r]), wscale);
    store16(g, m0 + r, n0, nv, _mm512_fmadd_ps(accf[r], s, bias));
  }
}

enum Kind { kQB4W, kQC4W, kQC8W };

template <Kind K, int MR>
ETN_AVX512_FN void rows(const KernelArgs& g, const uint8_t* tile, size_t m0, size_t n0, size_t nv) {
  if (K == kQB4W) rows_4bit<MR, true>(g, tile, m0, n0, nv);
  else if (K == kQC4W) rows_4bit<MR, false>(g, tile, m0, n0, nv);
  else rows_8bit<MR>(g, tile, m0, n0, nv);
}

template <Kind K>
ETN_AVX512_FN void kernel(const KernelArgs& g, size_t m0, size_t mc, size_t t0, size_t tc) {
  const PackedWeights& w = *g.w;
  for (size_t t = t0; t < t0 + tc; ++t) {
    const uint8_t* tile = w.tile(t);
    const size_t n0 = t * kTileN;
    const size_t nv = std::min(kTileN, w.n - n0);
    size_t m = m0;
    const size_t end = m0 + mc;
    for (; m + 8 <= end; m += 8) rows<K, 8>(g, tile, m, n0, nv);
    switch (end - m) {
      case 7: rows<K, 7>(g, tile, m, n0, nv); break;
      case 6: rows<K, 6>(g, tile, m, n0, nv); break;
      case 5: rows<K, 5>(g, tile, m, n0, nv); break;
      case 4: rows<K, 4>(g, tile, m, n0, nv); break;
      case 3: rows<K, 3>(g, tile, m, n0, nv); break;
      case 2: rows<K, 2>(g, tile, m, n0, nv); break;
      case 1: rows<K, 1>(g, tile, m, n0, nv); break;
      default: break;
    }
  }
}

}  // namespace

KernelFn avx512_kernel(WeightFormat format) {
  switch (format) {
    case WeightFormat::QB4W: return kernel<kQB4W>;
    case WeightFormat::QC4W: return kernel<kQC4W>;
    case WeightFormat::QC8W: return kernel<kQC8W>;
  }
  return nullptr;
}

}  // namespace etn::mk::detail

#else

namespace etn::mk::detail {
KernelFn avx512_kernel(WeightFormat) { return nullptr; }
}  // namespace etn::mk::detail

#endif
