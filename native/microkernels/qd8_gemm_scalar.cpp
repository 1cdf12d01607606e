// Portable qd8 GEMM kernels on the packed layout (qd8_gemm_internal.h): the
// fallback for CPUs without AVX2. One row and one tile at a time, int32 dot
// products per block, the same corrections as the SIMD kernels.
#include <algorithm>

#include "qd8_gemm_internal.h"

namespace etn::mk::detail {
namespace {

void store_row(const KernelArgs& g, size_t m, size_t n0, size_t nv, const float* v) {
  float* out = g.out + m * g.out_stride + n0;
  for (size_t c = 0; c < nv; ++c) out[c] = clampf(v[c], g.out_min, g.out_max);
}

template <bool BLOCKWISE>
void kernel_4bit(const KernelArgs& g, size_t m0, size_t mc, size_t t0, size_t tc) {
  const PackedWeights& w = *g.w;
  const size_t gpb = w.block_len / 8;
  for (size_t t = t0; t < t0 + tc; ++t) {
    const uint8_t* tile = w.tile(t);
    const size_t n0 = t * kTileN;
    const size_t nv = std::min(kTileN, w.n - n0);
    const float* bias = reinterpret_cast<const float*>(tile + w.off_bias);
    for (size_t m = m0; m < m0 + mc; ++m) {
      const int8_t* a = reinterpret_cast<const int8_t*>(g.acts.a + m * g.acts.a_stride);
      const int32_t* sa8 = g.acts.sa8 + m * g.acts.sa_stride;
      float acc[kTileN] = {};
      for (size_t b = 0; b < w.nblocks; ++b) {
        const size_t gb = b * gpb, ge = std::min(gb + gpb, w.groups);
        const BlockView view = block_view(w, tile, b);
        int32_t raw[kTileN] = {};
        for (size_t gi = gb; gi < ge; ++gi) {
          const uint8_t* rec = view.records + (gi - gb) * kRecordBytes;
          const int8_t* ak = a + gi * 8;
          for (size_t c = 0; c < nv; ++c) {
            int32_t s = 0;
            for (int j = 0; j < 4; ++j) {
              const uint8_t byte = rec[4 * c + j];
              s += (byte & 15) * ak[j] + (byte >> 4) * ak[4 + j];
            }
            raw[c] += s;
          }
        }
        if (BLOCKWISE) {
          const uint16_t* s = reinterpret_cast<const uint16_t*>(view.scales);
          for (size_t c = 0; c < nv; ++c) acc[c] += bf16_to_f32(s[c]) * static_cast<float>(raw[c] - sa8[b]);
        } else {
          const int32_t* sw = reinterpret_cast<const int32_t*>(tile + w.off_sums) + b * kTileN;
          const int32_t zp = g.acts.zc[m];
          for (size_t c = 0; c < nv; ++c) acc[c] += static_cast<float>(raw[c] - sa8[b] - zp * sw[c]);
        }
      }
      float v[kTileN];
      if (BLOCKWISE) {
        const float* ws = reinterpret_cast<const float*>(tile + w.off_sums);
        const float zpf = g.acts.zpf[m], as = g.acts.scale[m];
        for (size_t c = 0; c < nv; ++c) v[c] = (acc[c] - zpf * ws[c]) * as + bias[c];
      } else {
        const float* ws = reinterpret_cast<const float*>(tile + w.off_scales);
        const float as = g.acts.scale[m];
        for (size_t c = 0; c < nv; ++c) v[c] = acc[c] * (as * ws[c]) + bias[c];
      }
      store_row(g, m, n0, nv, v);
    }
  }
}

void kernel_qc8w(const KernelArgs& g, size_t m0, size_t mc, size_t t0, size_t tc) {
  const PackedWeights& w = *g.w;
  const size_t gpb = w.block_len / 4;
  for (size_t t = t0; t < t0 + tc; ++t) {
    const uint8_t* tile = w.tile(t);
    const size_t n0 = t * kTileN;
    const size_t nv = std::min(kTileN, w.n - n0);
    const float* bias = reinterpret_cast<const float*>(tile + w.off_bias);
    const float* ws = reinterpret_cast<const float*>(tile + w.off_scales);
    for (size_t m = m0; m < m0 + mc; ++m) {
      const uint8_t* a = g.acts.a + m * g.acts.a_stride;  // a + 128
      const int32_t zc = g.acts.zc[m];
      float acc[kTileN] = {};
      for (size_t b = 0; b < w.nblocks; ++b) {
        const size_t gb = b * gpb, ge = std::min(gb + gpb, w.groups);
        int32_t raw[kTileN] = {};
        for (size_t gi = gb; gi < ge; ++gi) {
          const int8_t* rec = reinterpret_cast<const int8_t*>(tile + gi * kRecordBytes);
          const uint8_t* ak = a + gi * 4;
          for (size_t c = 0; c < nv; ++c) {
            raw[c] += ak[0] * rec[4 * c] + ak[1] * rec[4 * c + 1] + ak[2] * rec[4 * c + 2] + ak[3] * rec[4 * c + 3];
          }
        }
        const int32_t* sw = reinterpret_cast<const int32_t*>(tile + w.off_sums) + b * kTileN;
        for (size_t c = 0; c < nv; ++c) acc[c] += static_cast<float>(raw[c] - zc * sw[c]);
      }
      float v[kTileN];
      const float as = g.acts.scale[m];
      for (size_t c = 0; c < nv; ++c) v[c] = acc[c] * (as * ws[c]) + bias[c];
      store_row(g, m, n0, nv, v);
    }
  }
}

}  // namespace

KernelFn scalar_kernel(WeightFormat format) {
  switch (format) {
    case WeightFormat::QB4W: return kernel_4bit<true>;
    case WeightFormat::QC4W: return kernel_4bit<false>;
    case WeightFormat::QC8W: return kernel_qc8w;
  }
  return nullptr;
}

}  // namespace etn::mk::detail
