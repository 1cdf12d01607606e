// Fully connected layers with f32 activations and int8 weights that have one f32
// scale per output channel (XNNPACK's "f32_qc8w": a FullyConnected node with an fp32
// input and a static qcint8 filter, what weight-only `8w` exports contain):
//
//   out[m][n] = scale[n] * (sum_k x[m][k] * w[n][k] + bias[n])     (then clamped)
//
// Note the bias is INSIDE the scaling: that is XNNPACK's definition of f32_qc8w (its
// kernels start the accumulators at the bias and multiply by the scale at the end;
// its operator tests use the same reference), so it is what the official ExecuTorch
// runtime computes for such a node. A writer that wants x . (w * scale)^T + b must
// store b / scale as the bias, or add b outside the node.
//
// The activations are not quantized: each int8 weight is converted to f32 in
// registers and multiplied with the f32 activation, sums are kept in f32, and the
// channel scale is applied once at the end. The
// weights stay int8 in memory (1 byte per weight plus 128 bytes per 16 channels),
// so decoding (M = 1, a GEMV) streams a quarter of the bytes of an f32 linear.
//
// Use: pack once at load (`pack_f32_qc8w_weights`), then `f32_qc8w_gemm` per call.
// Kernels exist for AVX-512, AVX2 + FMA and scalar code; the packed layout is the
// same for all of them. Work is split over output channels (and row chunks for large
// M) on a pthreadpool; pool == nullptr runs on the calling thread. Results do not
// depend on the number of threads (each output is summed by one thread in a fixed
// order), but do differ between ISA levels by float rounding (different numbers of
// partial sums).
#pragma once
#include <pthreadpool.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "cpu_features.h"
#include "qd8_gemm.h"  // GemmOptions, PackedWeights::Free

namespace etn::mk {

// The filter as the .pte stores it: int8 [n][k] (channel n's row at data + n *
// row_stride), f32 scales [n], optional f32 bias [n].
struct F32QC8WSource {
  size_t n = 0;  // output channels
  size_t k = 0;  // input channels
  const int8_t* data = nullptr;
  size_t row_stride = 0;  // bytes between rows; 0 = dense (k)
  const float* scales = nullptr;
  const float* bias = nullptr;  // or nullptr
};

// The filter rearranged for the kernels (layout in f32_qc8w_gemm_internal.h).
struct F32QC8WWeights {
  size_t n = 0, k = 0;
  size_t ntiles = 0;      // ceil(n / 16)
  size_t tile_bytes = 0;  // weights (k * 16, rounded up to 64), then 16 scales, then 16 biases
  size_t off_scales = 0, off_bias = 0;

  const uint8_t* tile(size_t t) const { return data.get() + t * tile_bytes; }
  uint8_t* tile(size_t t) { return data.get() + t * tile_bytes; }
  size_t bytes() const { return ntiles * tile_bytes; }

  std::unique_ptr<uint8_t, PackedWeights::Free> data;
};

// Validates `src` (throws etn::Error InvalidArgument on bad sizes/pointers, OutOfMemory
// when the packed copy cannot be allocated) and packs it; the source can be freed
// afterwards. Parallel over tiles on `pool`.
F32QC8WWeights pack_f32_qc8w_weights(const F32QC8WSource& src, pthreadpool_t pool = nullptr);

// out[i * out_stride + j] = row i of x (x + i * x_stride, w.k floats) times channel j,
// for i < m, j < w.n.
void f32_qc8w_gemm(const F32QC8WWeights& w, size_t m, const float* x, size_t x_stride, float* out,
                   size_t out_stride, pthreadpool_t pool, const GemmOptions& options = GemmOptions());

}  // namespace etn::mk
