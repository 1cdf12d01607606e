// Packed layout and kernel interface shared by the f32_qc8w GEMM files.
//
// Output channels are grouped in tiles of 16 (channels >= n are zero padding: zero
// weights, scale and bias). Tile t is tile_bytes long, 64-byte aligned:
//
//   weights   k-major: bytes [16 k, 16 k + 16) are w[16 t + c][k] for c = 0..15, so one
//             16-byte load (sign-extended to 16 int32 lanes, converted to f32) gives
//             one input channel for all 16 output channels: the operand of an FMA with
//             a broadcast activation. Four k fill one 64-byte cache line, and the whole
//             matrix is one sequential stream (tile after tile), what a GEMV wants.
//   off_scales  f32 [16]
//   off_bias    f32 [16] (0 without bias)
//
// A kernel computes, for rows m0.. and tiles t0..: acc = sum_k x[m][k] * f32(w), summed
// in f32 over several independent partial sums (so the FMA latency is hidden when few
// rows share a weight vector), then out = clamp((acc + bias) * scale) (see
// f32_qc8w_gemm.h for why the bias is scaled).
#pragma once
#include <cstddef>
#include <cstdint>

#include "f32_qc8w_gemm.h"

namespace etn::mk::detail {

constexpr size_t kF32QC8WTileN = 16;
// Software prefetch distance along the packed weight stream (SIMD kernels), as for
// the qd8 kernels: the hardware prefetcher alone leaves single-core GEMV bandwidth
// on the table on Zen 5.
#ifndef ETN_MK_F32QC8W_PREFETCH_BYTES
#define ETN_MK_F32QC8W_PREFETCH_BYTES 8192
#endif
constexpr size_t kF32QC8WPrefetchBytes = ETN_MK_F32QC8W_PREFETCH_BYTES;

inline float clamp_out(float v, float lo, float hi) {
  v = v < lo ? lo : v;
  return v > hi ? hi : v;
}

struct F32QC8WArgs {
  const F32QC8WWeights* w = nullptr;
  const float* x = nullptr;
  size_t x_stride = 0;  // floats between rows of x
  float* out = nullptr;
  size_t out_stride = 0;
  float out_min = 0, out_max = 0;
};

// Computes rows [m0, m0 + mc) of the output for tiles [t0, t0 + tc).
using F32QC8WKernelFn = void (*)(const F32QC8WArgs& args, size_t m0, size_t mc, size_t t0, size_t tc);

F32QC8WKernelFn f32_qc8w_scalar_kernel();
F32QC8WKernelFn f32_qc8w_avx2_kernel();    // nullptr when not built for x86
F32QC8WKernelFn f32_qc8w_avx512_kernel();  // nullptr when not built for x86

}  // namespace etn::mk::detail
