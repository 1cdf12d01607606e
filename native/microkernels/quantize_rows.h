// Per-token (per-row) dynamic int8 quantization of f32 activations: the qdint8
// ("qd8") tensors that XNNPACK's Convert(fp32 -> qdint8) produces in 8da4w / 8da8w
// exports, with XNNPACK's exact parameter choice (src/xnnpack/quantization.h,
// f32-qd8 convert):
//
//   rmin = min(0, min(row)), rmax = max(0, max(row))
//   m    = rmin == rmax ? 1 : 255 / (rmax - rmin)            (f32 math)
//   zp   = (-128 + rmin*m) + (127 + rmax*m) > 0 ? -128 - rmin*m : 127 - rmax*m
//   zp   = round_half_even(clamp(zp, -128, 127))
//   scale = 1 / m                         (XNNPACK's xnn_qd8_quantization_params.inv_scale)
//   q    = clamp(round_half_even(x * (1 / scale)), -128 - zp, 127 - zp) + zp
//
// so x ~= (q - zp) * scale. torchao's choose_qparams_per_token_asymmetric is the
// same formula evaluated as scale = range / 255 (clamped to f32 eps) and
// zp from min/scale, so its scales can differ from these in the last bit.
// Non-finite inputs give unspecified (but memory-safe) results.
#pragma once
#include <cstddef>
#include <cstdint>

#include "cpu_features.h"

namespace etn::mk {

struct QD8Params {
  float scale;         // dequantization scale: x ~= (q - zero_point) * scale
  int32_t zero_point;  // in [-128, 127]
};

// XNNPACK's parameters for a row whose minimum and maximum are `min` and `max`.
QD8Params qd8_params(float min, float max);

// Quantizes m rows of k floats (row i at x + i * x_stride) into q (row i at
// q + i * q_stride, k bytes written) and params[i]. All ISA variants give
// bit-identical results.
void quantize_rows_qd8(const float* x, size_t m, size_t k, size_t x_stride, int8_t* q, size_t q_stride,
                       QD8Params* params, Isa isa = Isa::Auto);

}  // namespace etn::mk
