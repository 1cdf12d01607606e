// f32_qc8w GEMM: weight packing, ISA dispatch and threading. The kernels themselves
// are in f32_qc8w_gemm_{scalar,avx2,avx512}.cpp.
#include "f32_qc8w_gemm.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "../runtime/error.h"
#include "packed_tiles.h"
#include "f32_qc8w_gemm_internal.h"

namespace etn::mk {

using namespace detail;

namespace {

constexpr size_t kTileN = kF32QC8WTileN;

constexpr size_t round_up(size_t v, size_t m) { return (v + m - 1) / m * m; }


struct PackJob {
  const F32QC8WSource* src;
  F32QC8WWeights* dst;
  size_t row_stride;
};

// Transposes the tile's 16 source rows into k-major order, 16 k at a time so each
// source row is read sequentially and each 256-byte block is written once.
void pack_tile(const PackJob& job, size_t t) {
  const F32QC8WSource& src = *job.src;
  F32QC8WWeights& w = *job.dst;
  uint8_t* tile = w.tile(t);
  std::memset(tile, 0, w.tile_bytes);
  const size_t nvalid = std::min(kTileN, src.n - t * kTileN);
  const int8_t* rows[kTileN];
  for (size_t c = 0; c < nvalid; ++c) rows[c] = src.data + (t * kTileN + c) * job.row_stride;
  int8_t* out = reinterpret_cast<int8_t*>(tile);
  for (size_t k0 = 0; k0 < src.k; k0 += 16) {
    const size_t kn = std::min<size_t>(16, src.k - k0);
    for (size_t c = 0; c < nvalid; ++c) {
      const int8_t* r = rows[c] + k0;
      for (size_t j = 0; j < kn; ++j) out[(k0 + j) * kTileN + c] = r[j];
    }
  }
  float* scales = reinterpret_cast<float*>(tile + w.off_scales);
  float* bias = reinterpret_cast<float*>(tile + w.off_bias);
  for (size_t c = 0; c < nvalid; ++c) {
    const size_t n = t * kTileN + c;
    scales[c] = src.scales[n];
    bias[c] = src.bias ? src.bias[n] : 0.0f;
  }
}

void pack_task(void* ctx, size_t t0, size_t tc) {
  const PackJob& job = *static_cast<const PackJob*>(ctx);
  for (size_t t = t0; t < t0 + tc; ++t) pack_tile(job, t);
}

F32QC8WKernelFn pick_kernel(Isa isa) {
  F32QC8WKernelFn fn = nullptr;
  if (isa == Isa::Avx512) fn = f32_qc8w_avx512_kernel();
  if (fn == nullptr && isa >= Isa::Avx2) fn = f32_qc8w_avx2_kernel();
  if (fn == nullptr) fn = f32_qc8w_scalar_kernel();
  return fn;
}

struct RunCtx {
  F32QC8WKernelFn fn;
  const F32QC8WArgs* args;
};

void run_task(void* ctx, size_t m0, size_t t0, size_t mc, size_t tc) {
  const RunCtx& r = *static_cast<const RunCtx*>(ctx);
  r.fn(*r.args, m0, mc, t0, tc);
}

}  // namespace

F32QC8WWeights pack_f32_qc8w_weights(const F32QC8WSource& src, pthreadpool_t pool) {
  ETN_CHECK(src.n > 0 && src.k > 0, ErrorCode::InvalidArgument, "f32_qc8w weights: empty shape [", src.n, ", ",
            src.k, "]");
  ETN_CHECK(src.n <= (size_t{1} << 31) && src.k <= (size_t{1} << 31), ErrorCode::InvalidArgument,
            "f32_qc8w weights: shape [", src.n, ", ", src.k, "] is too large");
  ETN_CHECK(src.data != nullptr, ErrorCode::InvalidArgument, "f32_qc8w weights: no data");
  ETN_CHECK(src.scales != nullptr, ErrorCode::InvalidArgument, "f32_qc8w weights: no per-channel scales");
  const size_t row_stride = src.row_stride ? src.row_stride : src.k;
  ETN_CHECK(row_stride >= src.k, ErrorCode::InvalidArgument, "f32_qc8w weights: row stride ", row_stride, " < ",
            src.k);

  F32QC8WWeights w;
  w.n = src.n;
  w.k = src.k;
  w.ntiles = (src.n + kTileN - 1) / kTileN;
  w.off_scales = round_up(src.k * kTileN, 64);
  w.off_bias = w.off_scales + 64;
  w.tile_bytes = w.off_bias + 64;
  w.data = allocate_packed_tiles(w.ntiles, w.tile_bytes, "f32_qc8w weights");

  PackJob job{&src, &w, row_stride};
  pack_tiles(pool, pack_task, &job, w.ntiles);
  return w;
}

void f32_qc8w_gemm(const F32QC8WWeights& w, size_t m, const float* x, size_t x_stride, float* out,
                   size_t out_stride, pthreadpool_t pool, const GemmOptions& options) {
  if (m == 0) return;
  ETN_CHECK(w.data != nullptr, ErrorCode::InvalidArgument, "f32_qc8w_gemm: weights are not packed");
  ETN_CHECK(x != nullptr && (m == 1 || x_stride >= w.k), ErrorCode::InvalidArgument,
            "f32_qc8w_gemm: bad input (stride ", x_stride, ", k ", w.k, ")");
  ETN_CHECK(out != nullptr && (m == 1 || out_stride >= w.n), ErrorCode::InvalidArgument,
            "f32_qc8w_gemm: bad output (stride ", out_stride, ", n ", w.n, ")");
  F32QC8WArgs args;
  args.w = &w;
  args.x = x;
  args.x_stride = x_stride;
  args.out = out;
  args.out_stride = out_stride;
  args.out_min = options.out_min;
  args.out_max = options.out_max;
  RunCtx ctx{pick_kernel(resolve_isa(options.isa)), &args};

  // Rows in chunks whose activations (mc * k floats) stay in L2 while a chunk's tiles
  // stream by; inside a chunk each weight vector is converted once per group of rows
  // (the kernels' MR) and reused for all of them.
  const size_t mc = std::min(m, std::max<size_t>(8, (256 * 1024 / (w.k * sizeof(float))) / 8 * 8));
  const size_t threads = thread_count(pool);
  if (threads <= 1) {
    for (size_t m0 = 0; m0 < m; m0 += mc) ctx.fn(args, m0, std::min(mc, m - m0), 0, w.ntiles);
    return;
  }
  const size_t row_chunks = (m + mc - 1) / mc;
  size_t tiles_per_task = std::max<size_t>(1, w.ntiles * row_chunks / (threads * 4));
  tiles_per_task = std::min(tiles_per_task, (w.ntiles + threads - 1) / threads);
  pthreadpool_parallelize_2d_tile_2d(pool, run_task, &ctx, m, w.ntiles, mc, tiles_per_task, 0);
}

}  // namespace etn::mk
