// Packed-weight layout and kernel interface shared by the qd8 GEMM files.
//
// Output channels are grouped in tiles of 16 (channels >= n are zero padding).
// Tile t is tile_bytes long, 64-byte aligned, and holds, each section 64-byte aligned:
//
//   weights, one 64-byte record per k-group; channel c owns bytes 4c .. 4c+3 of every
//   record (one 32-bit lane of a vector):
//       4-bit (k-group of 8):  byte 4c+j = u(k = 8g+j) | u(k = 8g+4+j) << 4,
//                              u = w + 8 in [0, 15]; padding (k >= K) is u = 8
//       int8  (k-group of 4):  byte 4c+j = w(k = 4g+j); padding is 0
//     so `v & 15` gives 4 consecutive k per lane and `v >> 4 & 15` the next 4:
//     exactly the operand vpdpbusd / vpmaddubsw multiply with 4 broadcast activations.
//     qc4w / qc8w: the records of all groups, in k order, from offset 0.
//     qb4w: blocks in pairs, each pair followed by one 64-byte record holding the bf16
//     scales of its two blocks ([2][16]), so weights and scales are one sequential
//     stream (block_view() computes the addresses).
//   off_scales  qc4w, qc8w: f32 [16]   (qb4w: scales are inline, see above)
//   off_sums    qb4w: f32 WS[16] = sum_b s[b] * SW[b]   qc4w, qc8w: int32 SW[nblocks][16]
//               where SW[b] = sum over the real k of block b of the signed weight (u - 8 or w)
//   off_bias    f32 [16] (0 without bias)
//
// Math, per row m and channel n (a = int8 activation, zp its zero point):
//   4-bit:  sum_k (a - zp)(u - 8) = raw - 8 * SA - zp * SW, raw = sum_k u * a, SA = sum_k a
//   int8:   sum_k (a - zp) w      = raw - (128 + zp) * SW,  raw = sum_k (a + 128) * w
// raw is exact in int32 within a block (qb4w) or chunk of kChunkK (qc formats). qb4w
// accumulates s[b] * (raw_b - 8 SA_b) in f32 and subtracts zp * WS at the end; the qc
// formats accumulate (raw - 8 SA - zc * SW) per chunk in f32 and scale once.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qd8_gemm.h"

namespace etn::mk::detail {

constexpr size_t kTileN = 16;
constexpr size_t kRecordBytes = 64;
constexpr size_t kChunkK = 32768;  // qc4w / qc8w: k per exact int32 chunk (multiple of 32)
// Software prefetch distance along the packed weight stream (SIMD kernels). The
// hardware prefetcher alone reached ~29 GB/s on one Zen 5 core for 4-bit GEMV,
// prefetching 8-16 KiB ahead ~40 GB/s (more than a plain summing loop).
#ifndef ETN_MK_PREFETCH_BYTES
#define ETN_MK_PREFETCH_BYTES 8192
#endif
constexpr size_t kPrefetchBytes = ETN_MK_PREFETCH_BYTES;

inline bool is4bit(WeightFormat f) { return f != WeightFormat::QC8W; }
inline size_t group_k(WeightFormat f) { return is4bit(f) ? 8 : 4; }

// Activations as prepared for the kernels (qd8_gemm.cpp), per format and ISA:
//   4-bit formats:          int8 a, zero-padded to kp
//   qc8w, scalar / avx512:  uint8 a + 128 (padding 128; padded weights are 0)
//   qc8w, avx2:             int16 a + 128
struct Acts {
  const uint8_t* a = nullptr;
  size_t a_stride = 0;           // bytes per row
  const int32_t* sa8 = nullptr;  // 4-bit: [row][nblocks] 8 * sum of a over the block
  size_t sa_stride = 0;          // int32 elements per row
  const int32_t* zc = nullptr;   // per row: zp (4-bit) or 128 + zp (qc8w)
  const float* zpf = nullptr;    // per row: zp as f32
  const float* scale = nullptr;  // per row: activation scale
};

struct KernelArgs {
  const PackedWeights* w = nullptr;
  Acts acts;
  float* out = nullptr;
  size_t out_stride = 0;
  float out_min = 0, out_max = 0;
};

// How one activation row is prepared (see Acts).
enum class ActEncoding { Int8WithSums, Uint8, Int16 };

struct PrepareRowArgs {
  ActEncoding encoding;
  size_t k, kp, block_len, nblocks;
};

// q[0..k) -> dst[0..kp) in the encoding; for Int8WithSums also sa8[b] = 8 * sum of
// q over block b.
using PrepareRowFn = void (*)(const PrepareRowArgs& args, const int8_t* q, uint8_t* dst, int32_t* sa8);
void prepare_row_scalar(const PrepareRowArgs& args, const int8_t* q, uint8_t* dst, int32_t* sa8);
PrepareRowFn avx2_prepare_row();  // nullptr when not built for x86

// Computes rows [m0, m0 + mc) of the output for tiles [t0, t0 + tc).
using KernelFn = void (*)(const KernelArgs& args, size_t m0, size_t mc, size_t t0, size_t tc);

KernelFn scalar_kernel(WeightFormat format);
KernelFn avx2_kernel(WeightFormat format);    // nullptr when not built for x86
KernelFn avx512_kernel(WeightFormat format);  // nullptr when not built for x86

// Where block b of a tile keeps its weight records and (qb4w) its 16 bf16 scales.
struct BlockView {
  const uint8_t* records;
  const uint8_t* scales;
};

inline BlockView block_view(const PackedWeights& w, const uint8_t* tile, size_t b) {
  const size_t gpb = w.block_len / group_k(w.format);
  if (w.format != WeightFormat::QB4W) return {tile + b * gpb * kRecordBytes, nullptr};
  const size_t pair = b / 2;
  const uint8_t* base = tile + pair * (2 * gpb + 1) * kRecordBytes;
  const size_t left = w.groups - pair * 2 * gpb;
  const size_t pair_groups = left < 2 * gpb ? left : 2 * gpb;
  return {base + (b & 1) * gpb * kRecordBytes, base + pair_groups * kRecordBytes + (b & 1) * 32};
}

// Bytes of the weight section of a tile.
inline size_t weight_section_bytes(WeightFormat format, size_t groups, size_t nblocks) {
  return (groups + (format == WeightFormat::QB4W ? (nblocks + 1) / 2 : 0)) * kRecordBytes;
}

inline float bf16_to_f32(uint16_t v) {
  const uint32_t bits = static_cast<uint32_t>(v) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

inline float clampf(float v, float lo, float hi) {
  v = v < lo ? lo : v;
  return v > hi ? hi : v;
}

}  // namespace etn::mk::detail
