// AVX2 qd8 GEMM kernels (8 output channels per ymm; a 16-channel tile is two halves).
// Only called when cpu_features() reports AVX2 + FMA with OS support; compiled with
// per-function target attributes, no global -m flags. AVX-VNNI is deliberately not
// used, so this is also the path for AVX2-only CPUs.
//
// 4-bit weights: vpmaddubsw(u8 = nibble u, s8 = activation a) gives exact int16 pair
//   sums (|u * a| <= 1920); up to 16 products are summed in int16 (<= 30720), then
//   vpmaddwd with ones widens to int32.
// int8 weights: vpmaddubsw could saturate (255 * 127 * 2 > 32767), so weights are
//   sign-extended to int16 and multiplied with int16 (a + 128) by vpmaddwd.
#include "qd8_gemm_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include <algorithm>

#define ETN_AVX2_FN __attribute__((target("avx2,fma")))
#define ETN_AVX2_INLINE static inline __attribute__((always_inline, target("avx2,fma")))

namespace etn::mk::detail {
namespace {

ETN_AVX2_INLINE __m256i bcast32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

ETN_AVX2_INLINE __m256i bcast64(const void* p) {
  long long v;
  std::memcpy(&v, p, 8);
  return _mm256_set1_epi64x(v);
}

// Bias is already added; clamps and stores the valid channels of an 8-channel half.
ETN_AVX2_INLINE void store8(const KernelArgs& g, size_t m, size_t n, size_t count, __m256 v) {
  v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(g.out_min)), _mm256_set1_ps(g.out_max));
  float* dst = g.out + m * g.out_stride + n;
  if (count >= 8) {
    _mm256_storeu_ps(dst, v);
  } else {
    const __m256i mask =
        _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    _mm256_maskstore_ps(dst, mask, v);
  }
}

// Rows [m0, m0 + MR) x halves [h0, h0 + NH) of one tile.
template <int MR, int NH, bool BLOCKWISE>
ETN_AVX2_FN void rows_4bit(const KernelArgs& g, const uint8_t* tile, size_t m0, size_t n0, size_t nv, int h0) {
  const PackedWeights& w = *g.w;
  const __m256i mask = _mm256_set1_epi8(0x0F);
  const __m256i ones = _mm256_set1_epi16(1);
  const int8_t* a[MR];
  const int32_t* sa8[MR];
  __m256 accf[NH][MR];
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r) {
    a[r] = reinterpret_cast<const int8_t*>(g.acts.a + (m0 + r) * g.acts.a_stride);
    sa8[r] = g.acts.sa8 + (m0 + r) * g.acts.sa_stride;
#pragma GCC unroll 2
    for (int h = 0; h < NH; ++h) accf[h][r] = _mm256_setzero_ps();
  }
  const size_t gpb = w.block_len / 8;
  for (size_t b = 0; b < w.nblocks; ++b) {
    const size_t gb = b * gpb, ge = std::min(gb + gpb, w.groups);
    const BlockView view = block_view(w, tile, b);
    __m256i blk[NH][MR];
#pragma GCC unroll 2
    for (int h = 0; h < NH; ++h)
#pragma GCC unroll 4
      for (int r = 0; r < MR; ++r) blk[h][r] = _mm256_setzero_si256();
    for (size_t gi = gb; gi < ge;) {
      const size_t unit = std::min<size_t>(4, ge - gi);  // <= 16 products per int16 lane
      __m256i s16[NH][MR];
#pragma GCC unroll 2
      for (int h = 0; h < NH; ++h)
#pragma GCC unroll 4
        for (int r = 0; r < MR; ++r) s16[h][r] = _mm256_setzero_si256();
      for (size_t j = 0; j < unit; ++j, ++gi) {
        const uint8_t* rec = view.records + (gi - gb) * kRecordBytes;
        if (NH == 2 || h0 == 0) _mm_prefetch(reinterpret_cast<const char*>(rec) + kPrefetchBytes, _MM_HINT_T0);
#pragma GCC unroll 2
        for (int h = 0; h < NH; ++h) {
          const __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i*>(rec + (h0 + h) * 32));
          const __m256i lo = _mm256_and_si256(v, mask);
          const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), mask);
#pragma GCC unroll 4
          for (int r = 0; r < MR; ++r) {
            const int8_t* ak = a[r] + gi * 8;
            const __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(lo, bcast32(ak)),
                                               _mm256_maddubs_epi16(hi, bcast32(ak + 4)));
            s16[h][r] = _mm256_add_epi16(s16[h][r], p);
          }
        }
      }
#pragma GCC unroll 2
      for (int h = 0; h < NH; ++h)
#pragma GCC unroll 4
        for (int r = 0; r < MR; ++r) blk[h][r] = _mm256_add_epi32(blk[h][r], _mm256_madd_epi16(s16[h][r], ones));
    }
#pragma GCC unroll 2
    for (int h = 0; h < NH; ++h) {
      if (BLOCKWISE) {
        const __m128i s16 = _mm_load_si128(reinterpret_cast<const __m128i*>(view.scales + (h0 + h) * 16));
        const __m256 scale = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(s16), 16));
#pragma GCC unroll 4
        for (int r = 0; r < MR; ++r) {
          const __m256i raw = _mm256_sub_epi32(blk[h][r], _mm256_set1_epi32(sa8[r][b]));
          accf[h][r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(raw), scale, accf[h][r]);
        }
      } else {
        const __m256i sw = _mm256_load_si256(
            reinterpret_cast<const __m256i*>(tile + w.off_sums + (b * kTileN + (h0 + h) * 8) * 4));
#pragma GCC unroll 4
        for (int r = 0; r < MR; ++r) {
          __m256i raw = _mm256_sub_epi32(blk[h][r], _mm256_set1_epi32(sa8[r][b]));
          raw = _mm256_sub_epi32(raw, _mm256_mullo_epi32(_mm256_set1_epi32(g.acts.zc[m0 + r]), sw));
          accf[h][r] = _mm256_add_ps(accf[h][r], _mm256_cvtepi32_ps(raw));
        }
      }
    }
  }
#pragma GCC unroll 2
  for (int h = 0; h < NH; ++h) {
    const size_t c0 = static_cast<size_t>(h0 + h) * 8;
    const __m256 bias = _mm256_load_ps(reinterpret_cast<const float*>(tile + w.off_bias) + c0);
    if (BLOCKWISE) {
      const __m256 ws = _mm256_load_ps(reinterpret_cast<const float*>(tile + w.off_sums) + c0);
#pragma GCC unroll 4
      for (int r = 0; r < MR; ++r) {
        const __m256 v = _mm256_fnmadd_ps(_mm256_set1_ps(g.acts.zpf[m0 + r]), ws, accf[h][r]);
        store8(g, m0 + r, n0 + c0, nv - c0, _mm256_fmadd_ps(v, _mm256_set1_ps(g.acts.scale[m0 + r]), bias));
      }
    } else {
      const __m256 wscale = _mm256_load_ps(reinterpret_cast<const float*>(tile + w.off_scales) + c0);
#pragma GCC unroll 4
      for (int r = 0; r < MR; ++r) {
        const __m256 s = _mm256_mul_ps(_mm256_set1_ps(g.acts.scale[m0 + r]), wscale);
        store8(g, m0 + r, n0 + c0, nv - c0, _mm256_fmadd_ps(accf[h][r], s, bias));
      }
    }
  }
}

template <int MR, int NH>
ETN_AVX2_FN void rows_8bit(const KernelArgs& g, const uint8_t* tile, size_t m0, size_t n0, size_t nv, int h0) {
  const PackedWeights& w = *g.w;
  const int16_t* a[MR];  // int16 a + 128
  __m256 accf[NH][MR];
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r) {
    a[r] = reinterpret_cast<const int16_t*>(g.acts.a + (m0 + r) * g.acts.a_stride);
#pragma GCC unroll 2
    for (int h = 0; h < NH; ++h) accf[h][r] = _mm256_setzero_ps();
  }
  const size_t gpb = w.block_len / 4;
  for (size_t b = 0; b < w.nblocks; ++b) {
    const size_t gb = b * gpb, ge = std::min(gb + gpb, w.groups);
    // Channels 0-3 (A) and 4-7 (B) of each half, two int32 partial sums per channel.
    __m256i accA[NH][MR], accB[NH][MR];
#pragma GCC unroll 2
    for (int h = 0; h < NH; ++h)
#pragma GCC unroll 4
      for (int r = 0; r < MR; ++r) accA[h][r] = accB[h][r] = _mm256_setzero_si256();
    for (size_t gi = gb; gi < ge; ++gi) {
      const uint8_t* rec = tile + gi * kRecordBytes;
      if (NH == 2 || h0 == 0) _mm_prefetch(reinterpret_cast<const char*>(rec) + kPrefetchBytes, _MM_HINT_T0);
      __m256i av[MR];
#pragma GCC unroll 4
      for (int r = 0; r < MR; ++r) av[r] = bcast64(a[r] + gi * 4);
#pragma GCC unroll 2
      for (int h = 0; h < NH; ++h) {
        const __m256i wa =
            _mm256_cvtepi8_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(rec + (h0 + h) * 32)));
        const __m256i wb =
            _mm256_cvtepi8_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(rec + (h0 + h) * 32 + 16)));
#pragma GCC unroll 4
        for (int r = 0; r < MR; ++r) {
          accA[h][r] = _mm256_add_epi32(accA[h][r], _mm256_madd_epi16(wa, av[r]));
          accB[h][r] = _mm256_add_epi32(accB[h][r], _mm256_madd_epi16(wb, av[r]));
        }
      }
    }
#pragma GCC unroll 2
    for (int h = 0; h < NH; ++h) {
      const __m256i sw = _mm256_load_si256(
          reinterpret_cast<const __m256i*>(tile + w.off_sums + (b * kTileN + (h0 + h) * 8) * 4));
#pragma GCC unroll 4
      for (int r = 0; r < MR; ++r) {
        // hadd gives channels [0 1 4 5 | 2 3 6 7]; the permute restores 0..7.
        __m256i raw = _mm256_permute4x64_epi64(_mm256_hadd_epi32(accA[h][r], accB[h][r]), 0xD8);
        raw = _mm256_sub_epi32(raw, _mm256_mullo_epi32(_mm256_set1_epi32(g.acts.zc[m0 + r]), sw));
        accf[h][r] = _mm256_add_ps(accf[h][r], _mm256_cvtepi32_ps(raw));
      }
    }
  }
#pragma GCC unroll 2
  for (int h = 0; h < NH; ++h) {
    const size_t c0 = static_cast<size_t>(h0 + h) * 8;
    const __m256 bias = _mm256_load_ps(reinterpret_cast<const float*>(tile + w.off_bias) + c0);
    const __m256 wscale = _mm256_load_ps(reinterpret_cast<const float*>(tile + w.off_scales) + c0);
#pragma GCC unroll 4
    for (int r = 0; r < MR; ++r) {
      const __m256 s = _mm256_mul_ps(_mm256_set1_ps(g.acts.scale[m0 + r]), wscale);
      store8(g, m0 + r, n0 + c0, nv - c0, _mm256_fmadd_ps(accf[h][r], s, bias));
    }
  }
}

enum Kind { kQB4W, kQC4W, kQC8W };

template <Kind K, int MR, int NH>
ETN_AVX2_FN void rows(const KernelArgs& g, const uint8_t* tile, size_t m0, size_t n0, size_t nv, int h0) {
  if (K == kQB4W) rows_4bit<MR, NH, true>(g, tile, m0, n0, nv, h0);
  else if (K == kQC4W) rows_4bit<MR, NH, false>(g, tile, m0, n0, nv, h0);
  else rows_8bit<MR, NH>(g, tile, m0, n0, nv, h0);
}

// MR > 1 rows run each half separately (register pressure); one row runs both.
template <Kind K, int MR>
ETN_AVX2_FN void rows_tile(const KernelArgs& g, const uint8_t* tile, size_t m0, size_t n0, size_t nv) {
  if (MR == 1 && nv > 8) {
    rows<K, 1, 2>(g, tile, m0, n0, nv, 0);
    return;
  }
  rows<K, MR, 1>(g, tile, m0, n0, nv, 0);
  if (nv > 8) rows<K, MR, 1>(g, tile, m0, n0, nv, 1);
}

template <Kind K>
ETN_AVX2_FN void kernel(const KernelArgs& g, size_t m0, size_t mc, size_t t0, size_t tc) {
  const PackedWeights& w = *g.w;
  for (size_t t = t0; t < t0 + tc; ++t) {
    const uint8_t* tile = w.tile(t);
    const size_t n0 = t * kTileN;
    const size_t nv = std::min(kTileN, w.n - n0);
    size_t m = m0;
    const size_t end = m0 + mc;
    for (; m + 3 <= end; m += 3) rows_tile<K, 3>(g, tile, m, n0, nv);
    switch (end - m) {
      case 2: rows_tile<K, 2>(g, tile, m, n0, nv); break;
      case 1: rows_tile<K, 1>(g, tile, m, n0, nv); break;
      default: break;
    }
  }
}

ETN_AVX2_FN void prepare_row(const PrepareRowArgs& args, const int8_t* q, uint8_t* dst, int32_t* sa8) {
  const size_t k = args.k;
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  switch (args.encoding) {
    case ActEncoding::Int8WithSums: {
      for (size_t b = 0; b < args.nblocks; ++b) {
        const size_t kb = b * args.block_len, ke = std::min(kb + args.block_len, k);
        // sum(q) = sum(q ^ 0x80 as unsigned) - 128 * n; vpsadbw sums unsigned bytes.
        __m256i acc = _mm256_setzero_si256();
        size_t kk = kb;
        for (; kk + 32 <= ke; kk += 32) {
          const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + kk));
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + kk), v);
          acc = _mm256_add_epi64(acc, _mm256_sad_epu8(_mm256_xor_si256(v, flip), _mm256_setzero_si256()));
        }
        int64_t sum = _mm256_extract_epi64(acc, 0) + _mm256_extract_epi64(acc, 1) + _mm256_extract_epi64(acc, 2) +
                      _mm256_extract_epi64(acc, 3) - 128 * static_cast<int64_t>(kk - kb);
        for (; kk < ke; ++kk) {
          dst[kk] = static_cast<uint8_t>(q[kk]);
          sum += q[kk];
        }
        sa8[b] = static_cast<int32_t>(8 * sum);
      }
      std::memset(dst + k, 0, args.kp - k);
      break;
    }
    case ActEncoding::Uint8: {
      size_t kk = 0;
      for (; kk + 32 <= k; kk += 32) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + kk));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + kk), _mm256_xor_si256(v, flip));
      }
      for (; kk < k; ++kk) dst[kk] = static_cast<uint8_t>(q[kk] ^ 0x80);
      std::memset(dst + k, 0x80, args.kp - k);
      break;
    }
    case ActEncoding::Int16: {
      int16_t* d16 = reinterpret_cast<int16_t*>(dst);
      const __m256i bias = _mm256_set1_epi16(128);
      size_t kk = 0;
      for (; kk + 16 <= k; kk += 16) {
        const __m256i v = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + kk)));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(d16 + kk), _mm256_add_epi16(v, bias));
      }
      for (; kk < k; ++kk) d16[kk] = static_cast<int16_t>(q[kk] + 128);
      for (; kk < args.kp; ++kk) d16[kk] = 128;
      break;
    }
  }
}

}  // namespace

PrepareRowFn avx2_prepare_row() { return prepare_row; }

KernelFn avx2_kernel(WeightFormat format) {
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
KernelFn avx2_kernel(WeightFormat) { return nullptr; }
PrepareRowFn avx2_prepare_row() { return nullptr; }
}  // namespace etn::mk::detail

#endif
