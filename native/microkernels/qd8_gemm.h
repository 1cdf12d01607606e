// Fully connected layers with dynamically quantized int8 activations (qd8, one
// scale + zero point per row, see quantize_rows.h) and quantized weights:
//
//   out[m][n] = sum_k dq(a)[m][k] * dq(w)[n][k] + bias[n]      (then clamped)
//
//   dq(a)[m][k] = (a[m][k] - zp[m]) * scale[m]
//   qb4w: dq(w)[n][k] = (w[n][k] - 8) * bf16_scale[n][k / block]   (4-bit, block % 32 == 0)
//   qc4w: dq(w)[n][k] = (w[n][k] - 8) * scale[n]                   (4-bit, f32 scale)
//   qc8w: dq(w)[n][k] =  w[n][k]      * scale[n]                   (int8, f32 scale)
//
// This is XNNPACK's FullyConnected with a qdint8 input and a qbint4 / qcint4 /
// qcint8 filter [OC, IC] (what 8da4w and 8da8w exports contain).
//
// Use: pack once at load (`pack_qd8_weights`), then `qd8_gemm` per call (M = 1 is
// the GEMV of decoding). Integer dot products are exact; per-block and per-row
// scaling is done in f32. Kernels exist for AVX-512 VNNI, AVX2 and scalar code; the
// packed layout is the same for all of them, so one PackedWeights serves any ISA.
// Work is split over output channels (and row chunks for large M) on a pthreadpool;
// pool == nullptr runs on the calling thread. Results do not depend on the number
// of threads.
#pragma once
#include <pthreadpool.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "cpu_features.h"
#include "quantize_rows.h"

namespace etn::mk {

enum class WeightFormat { QB4W, QC4W, QC8W };
const char* weight_format_name(WeightFormat format);

// Unpacked weights as the .pte stores them.
struct WeightSource {
  WeightFormat format = WeightFormat::QB4W;
  size_t n = 0;  // output channels (OC)
  size_t k = 0;  // input channels (IC)
  // qc8w: int8 [n][k]. qb4w / qc4w: [n][(k + 1) / 2] bytes, value v + 8 per nibble,
  // the even k in the low nibble (IC padded to even).
  const void* data = nullptr;
  size_t row_stride = 0;  // bytes between rows of `data`; 0 = dense
  // qb4w: bf16 scales [n][ceil(k / block_size)] (the last block of a row may be partial).
  const uint16_t* scales_bf16 = nullptr;
  size_t block_size = 32;  // qb4w only: a multiple of 32
  // qc4w / qc8w: f32 scales [n].
  const float* scales_f32 = nullptr;
  const float* bias = nullptr;  // [n] or nullptr
};

// Weights rearranged for the kernels (see qd8_gemm_internal.h for the layout).
struct PackedWeights {
  WeightFormat format = WeightFormat::QB4W;
  size_t n = 0, k = 0;
  size_t kp = 0;         // k rounded up to the k-group (8 for 4-bit, 4 for int8)
  size_t groups = 0;     // kp / k-group
  size_t block_len = 0;  // k per scale block (qb4w) or per integer chunk (qc4w, qc8w)
  size_t nblocks = 0;    // ceil(k / block_len)
  size_t ntiles = 0;     // ceil(n / 16)
  size_t tile_bytes = 0;
  size_t off_scales = 0, off_sums = 0, off_bias = 0;  // byte offsets inside a tile

  const uint8_t* tile(size_t t) const { return data.get() + t * tile_bytes; }
  uint8_t* tile(size_t t) { return data.get() + t * tile_bytes; }
  size_t bytes() const { return ntiles * tile_bytes; }

  struct Free {
    Free() : bytes(0) {}
    explicit Free(size_t n) : bytes(n) {}
    size_t bytes;  // what was allocated (see runtime/large_alloc.h)
    void operator()(uint8_t* p) const;
  };
  std::unique_ptr<uint8_t, Free> data;
};

// Validates `src` (throws etn::Error InvalidArgument on bad sizes/pointers) and
// packs it; the source can be freed afterwards. Parallel over tiles on `pool`.
PackedWeights pack_qd8_weights(const WeightSource& src, pthreadpool_t pool = nullptr);

// qd8 activations [m][k]: row i at data + i * stride, params[i] its scale/zero point.
struct QD8Rows {
  const int8_t* data = nullptr;
  size_t stride = 0;  // bytes; >= k
  const QD8Params* params = nullptr;
};

struct GemmOptions {
  float out_min = -INFINITY;
  float out_max = INFINITY;
  Isa isa = Isa::Auto;  // Auto = selected_isa(); unsupported levels fall back
};

// out[i * out_stride + j] for i < m, j < w.n. Scratch memory is thread-local to the
// calling thread.
void qd8_gemm(const PackedWeights& w, size_t m, const QD8Rows& a, float* out, size_t out_stride,
              pthreadpool_t pool, const GemmOptions& options = GemmOptions());

// Convenience: quantize f32 rows x [m][w.k] (quantize_rows_qd8) and run qd8_gemm.
void qd8_linear_f32(const PackedWeights& w, size_t m, const float* x, size_t x_stride, float* out,
                    size_t out_stride, pthreadpool_t pool, const GemmOptions& options = GemmOptions());

}  // namespace etn::mk
