// Portable f32_qc8w kernel: the reference for the SIMD variants and the fallback on
// CPUs without AVX2. Rows are processed four at a time so each converted weight is
// used four times; every output is one sequential f32 sum over k.
#include <algorithm>

#include "f32_qc8w_gemm_internal.h"

namespace etn::mk::detail {
namespace {

constexpr size_t kTileN = kF32QC8WTileN;

template <int MR>
void rows(const F32QC8WArgs& g, const uint8_t* tile, size_t m0, size_t n0, size_t nv) {
  const F32QC8WWeights& w = *g.w;
  const int8_t* wp = reinterpret_cast<const int8_t*>(tile);
  const float* x[MR];
  float acc[MR][kTileN] = {};
  for (int r = 0; r < MR; ++r) x[r] = g.x + (m0 + r) * g.x_stride;
  for (size_t k = 0; k < w.k; ++k) {
    float wf[kTileN];
    for (size_t c = 0; c < kTileN; ++c) wf[c] = static_cast<float>(wp[k * kTileN + c]);
    for (int r = 0; r < MR; ++r) {
      const float xv = x[r][k];
      for (size_t c = 0; c < kTileN; ++c) acc[r][c] += xv * wf[c];
    }
  }
  const float* scales = reinterpret_cast<const float*>(tile + w.off_scales);
  const float* bias = reinterpret_cast<const float*>(tile + w.off_bias);
  for (int r = 0; r < MR; ++r) {
    float* o = g.out + (m0 + r) * g.out_stride + n0;
    for (size_t c = 0; c < nv; ++c) o[c] = clamp_out((acc[r][c] + bias[c]) * scales[c], g.out_min, g.out_max);
  }
}

void kernel(const F32QC8WArgs& g, size_t m0, size_t mc, size_t t0, size_t tc) {
  const F32QC8WWeights& w = *g.w;
  for (size_t t = t0; t < t0 + tc; ++t) {
    const size_t n0 = t * kTileN, nv = std::min(kTileN, w.n - n0);
    size_t m = m0;
    const size_t end = m0 + mc;
    for (; m + 4 <= end; m += 4) rows<4>(g, w.tile(t), m, n0, nv);
    switch (end - m) {
      case 3: rows<3>(g, w.tile(t), m, n0, nv); break;
      case 2: rows<2>(g, w.tile(t), m, n0, nv); break;
      case 1: rows<1>(g, w.tile(t), m, n0, nv); break;
      default: break;
    }
  }
}

}  // namespace

F32QC8WKernelFn f32_qc8w_scalar_kernel() { return kernel; }

}  // namespace etn::mk::detail
