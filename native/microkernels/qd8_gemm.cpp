// qd8 GEMM: weight packing, activation preparation, ISA dispatch and threading.
// The kernels themselves are in qd8_gemm_{scalar,avx2,avx512}.cpp.
#include "qd8_gemm.h"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <vector>

#include "../runtime/error.h"
#include "../runtime/large_alloc.h"
#include "packed_tiles.h"
#include "qd8_gemm_internal.h"

namespace etn::mk {

using namespace detail;

const char* weight_format_name(WeightFormat format) {
  switch (format) {
    case WeightFormat::QB4W: return "qb4w";
    case WeightFormat::QC4W: return "qc4w";
    case WeightFormat::QC8W: return "qc8w";
  }
  return "?";
}

void PackedWeights::Free::operator()(uint8_t* p) const { largeFree(p, bytes); }

namespace {

constexpr size_t round_up(size_t v, size_t m) { return (v + m - 1) / m * m; }

struct PackJob {
  const WeightSource* src;
  PackedWeights* dst;
  size_t row_stride;
};

inline uint8_t nibble(const uint8_t* row, size_t k) { return (row[k >> 1] >> ((k & 1) * 4)) & 15; }

void pack_tile_4bit(const PackJob& job, size_t t) {
  const WeightSource& src = *job.src;
  PackedWeights& w = *job.dst;
  uint8_t* tile = w.tile(t);
  const size_t k = src.k;
  const size_t gpb = w.block_len / 8;
  const size_t nvalid = std::min(kTileN, src.n - t * kTileN);
  const bool blockwise = w.format == WeightFormat::QB4W;
  double ws[kTileN] = {};  // qb4w: sum_b scale_b * SW_b
  for (size_t b = 0; b < w.nblocks; ++b) {
    const size_t gb = b * gpb, ge = std::min(gb + gpb, w.groups);
    const BlockView view = block_view(w, tile, b);
    uint8_t* records = const_cast<uint8_t*>(view.records);
    for (size_t c = 0; c < kTileN; ++c) {
      if (c >= nvalid) {  // padding channel: u = 8 (w = 0); scales, sums and bias stay 0
        for (size_t g = gb; g < ge; ++g) std::memset(records + (g - gb) * kRecordBytes + 4 * c, 0x88, 4);
        continue;
      }
      const size_t n = t * kTileN + c;
      const uint8_t* row = static_cast<const uint8_t*>(src.data) + n * job.row_stride;
      int32_t sw = 0;
      for (size_t g = gb; g < ge; ++g) {
        uint8_t* rec = records + (g - gb) * kRecordBytes + 4 * c;
        const size_t k0 = g * 8;
        if (k0 + 8 <= k) {
          // Source bytes hold nibbles k0..k0+7 as L0 H0 | L1 H1 | L2 H2 | L3 H3 (low, high);
          // the record wants byte j = nibble(k0 + j) | nibble(k0 + 4 + j) << 4.
          uint32_t x;
          std::memcpy(&x, row + k0 / 2, 4);
          const uint32_t lo = x & 0x0F0F0F0Fu, hi = (x >> 4) & 0x0F0F0F0Fu;
          const uint32_t first = (lo & 0xFFu) | (hi & 0xFFu) << 8 | (lo & 0xFF00u) << 8 | (hi & 0xFF00u) << 16;
          const uint32_t second = (lo >> 16 & 0xFFu) | (hi >> 16 & 0xFFu) << 8 | (lo >> 24) << 16 | (hi >> 24) << 24;
          const uint32_t out = first | second << 4;
          std::memcpy(rec, &out, 4);
          sw += static_cast<int32_t>(((lo + hi) * 0x01010101u) >> 24) - 64;
        } else {
          uint8_t u[8];
          for (size_t j = 0; j < 8; ++j) {
            const size_t kk = k0 + j;
            u[j] = kk < k ? nibble(row, kk) : 8;
            sw += static_cast<int32_t>(u[j]) - 8;
          }
          for (int j = 0; j < 4; ++j) rec[j] = static_cast<uint8_t>(u[j] | u[4 + j] << 4);
        }
      }
      if (blockwise) {
        const uint16_t s = src.scales_bf16[n * w.nblocks + b];
        reinterpret_cast<uint16_t*>(const_cast<uint8_t*>(view.scales))[c] = s;
        ws[c] += static_cast<double>(bf16_to_f32(s)) * sw;
      } else {
        reinterpret_cast<int32_t*>(tile + w.off_sums)[b * kTileN + c] = sw;
      }
    }
  }
  for (size_t c = 0; c < nvalid; ++c) {
    const size_t n = t * kTileN + c;
    if (blockwise) reinterpret_cast<float*>(tile + w.off_sums)[c] = static_cast<float>(ws[c]);
    else reinterpret_cast<float*>(tile + w.off_scales)[c] = src.scales_f32[n];
    reinterpret_cast<float*>(tile + w.off_bias)[c] = src.bias ? src.bias[n] : 0.0f;
  }
}

void pack_tile_8bit(const PackJob& job, size_t t) {
  const WeightSource& src = *job.src;
  PackedWeights& w = *job.dst;
  uint8_t* tile = w.tile(t);
  const size_t k = src.k;
  const size_t gpb = w.block_len / 4;
  for (size_t c = 0; c < kTileN; ++c) {
    const size_t n = t * kTileN + c;
    if (n >= src.n) continue;  // the tile was zeroed: zero weights, scale, bias
    const int8_t* row = static_cast<const int8_t*>(src.data) + n * job.row_stride;
    for (size_t b = 0; b < w.nblocks; ++b) {
      const size_t gb = b * gpb, ge = std::min(gb + gpb, w.groups);
      int32_t sw = 0;
      for (size_t g = gb; g < ge; ++g) {
        int8_t* rec = reinterpret_cast<int8_t*>(tile + g * kRecordBytes + 4 * c);
        const size_t k0 = g * 4;
        for (size_t j = 0; j < 4; ++j) {
          const int8_t v = k0 + j < k ? row[k0 + j] : 0;
          rec[j] = v;
          sw += v;
        }
      }
      reinterpret_cast<int32_t*>(tile + w.off_sums)[b * kTileN + c] = sw;
    }
    reinterpret_cast<float*>(tile + w.off_scales)[c] = src.scales_f32[n];
    reinterpret_cast<float*>(tile + w.off_bias)[c] = src.bias ? src.bias[n] : 0.0f;
  }
}

void pack_task(void* ctx, size_t t0, size_t tc) {
  const PackJob& job = *static_cast<const PackJob*>(ctx);
  for (size_t t = t0; t < t0 + tc; ++t) {
    std::memset(job.dst->tile(t), 0, job.dst->tile_bytes);
    if (is4bit(job.src->format)) pack_tile_4bit(job, t);
    else pack_tile_8bit(job, t);
  }
}


}  // namespace

PackedWeights pack_qd8_weights(const WeightSource& src, pthreadpool_t pool) {
  const char* name = weight_format_name(src.format);
  ETN_CHECK(src.n > 0 && src.k > 0, ErrorCode::InvalidArgument, "qd8 weights (", name, "): empty shape [", src.n,
            ", ", src.k, "]");
  ETN_CHECK(src.n <= (size_t{1} << 31) && src.k <= (size_t{1} << 31), ErrorCode::InvalidArgument, "qd8 weights (",
            name, "): shape [", src.n, ", ", src.k, "] is too large");
  ETN_CHECK(src.data != nullptr, ErrorCode::InvalidArgument, "qd8 weights (", name, "): no data");
  const bool four = is4bit(src.format);
  const size_t min_stride = four ? (src.k + 1) / 2 : src.k;
  const size_t row_stride = src.row_stride ? src.row_stride : min_stride;
  ETN_CHECK(row_stride >= min_stride, ErrorCode::InvalidArgument, "qd8 weights (", name, "): row stride ",
            row_stride, " < ", min_stride);
  if (src.format == WeightFormat::QB4W) {
    ETN_CHECK(src.block_size >= 32 && src.block_size % 32 == 0 && src.block_size <= 65536,
              ErrorCode::InvalidArgument, "qd8 weights (qb4w): block size ", src.block_size,
              " is not a multiple of 32 in [32, 65536]");
    ETN_CHECK(src.scales_bf16 != nullptr, ErrorCode::InvalidArgument, "qd8 weights (qb4w): no bf16 scales");
  } else {
    ETN_CHECK(src.scales_f32 != nullptr, ErrorCode::InvalidArgument, "qd8 weights (", name, "): no f32 scales");
  }

  PackedWeights w;
  w.format = src.format;
  w.n = src.n;
  w.k = src.k;
  w.kp = round_up(src.k, group_k(src.format));
  w.groups = w.kp / group_k(src.format);
  w.block_len = src.format == WeightFormat::QB4W ? src.block_size : kChunkK;
  w.nblocks = (src.k + w.block_len - 1) / w.block_len;
  w.ntiles = (src.n + kTileN - 1) / kTileN;
  w.off_scales = weight_section_bytes(src.format, w.groups, w.nblocks);
  const size_t scale_bytes = src.format == WeightFormat::QB4W ? 0 : kTileN * 4;
  w.off_sums = w.off_scales + round_up(scale_bytes, 64);
  const size_t sum_bytes = src.format == WeightFormat::QB4W ? kTileN * 4 : w.nblocks * kTileN * 4;
  w.off_bias = w.off_sums + round_up(sum_bytes, 64);
  w.tile_bytes = w.off_bias + 64;
  w.data = allocate_packed_tiles(w.ntiles, w.tile_bytes, "qd8 weights");

  PackJob job{&src, &w, row_stride};
  pack_tiles(pool, pack_task, &job, w.ntiles);
  return w;
}

namespace {

KernelFn pick_kernel(Isa isa, WeightFormat format) {
  KernelFn fn = nullptr;
  if (isa == Isa::Avx512) fn = avx512_kernel(format);
  if (fn == nullptr && isa >= Isa::Avx2) fn = avx2_kernel(format);
  if (fn == nullptr) fn = scalar_kernel(format);
  return fn;
}

// Per-thread scratch for the prepared activations; grows, never shrinks.
struct Scratch {
  std::vector<uint8_t> a;
  std::vector<int32_t> sa8, zc;
  std::vector<float> zpf, scale;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

struct PrepareCtx {
  PrepareRowFn fn;
  PrepareRowArgs args;
  const QD8Rows* in;
  Acts acts;
  uint8_t* a;
  int32_t* sa8;
};

void prepare_task(void* ctx, size_t i0, size_t count) {
  const PrepareCtx& c = *static_cast<const PrepareCtx*>(ctx);
  for (size_t i = i0; i < i0 + count; ++i) {
    c.fn(c.args, c.in->data + i * c.in->stride, c.a + i * c.acts.a_stride, c.sa8 + i * c.acts.sa_stride);
  }
}

Acts prepare_acts(const PackedWeights& w, size_t m, const QD8Rows& in, Isa isa, Scratch& s, pthreadpool_t pool) {
  const bool four = is4bit(w.format);
  PrepareRowArgs args;
  args.encoding = four ? ActEncoding::Int8WithSums : isa == Isa::Avx2 ? ActEncoding::Int16 : ActEncoding::Uint8;
  args.k = w.k;
  args.kp = w.kp;
  args.block_len = w.block_len;
  args.nblocks = w.nblocks;
  Acts acts;
  acts.a_stride = round_up(w.kp * (args.encoding == ActEncoding::Int16 ? 2 : 1), 64);
  acts.sa_stride = four ? w.nblocks : 0;
  if (s.a.size() < m * acts.a_stride + 64) s.a.resize(m * acts.a_stride + 64);
  if (s.zc.size() < m) {
    s.zc.resize(m);
    s.zpf.resize(m);
    s.scale.resize(m);
  }
  if (s.sa8.size() < m * acts.sa_stride + 1) s.sa8.resize(m * acts.sa_stride + 1);
  for (size_t i = 0; i < m; ++i) {
    const QD8Params p = in.params[i];
    s.scale[i] = p.scale;
    s.zpf[i] = static_cast<float>(p.zero_point);
    s.zc[i] = four ? p.zero_point : 128 + p.zero_point;
  }
  PrepareCtx ctx{prepare_row_scalar, args, &in, acts, s.a.data(), s.sa8.data()};
  if (isa >= Isa::Avx2 && avx2_prepare_row() != nullptr) ctx.fn = avx2_prepare_row();
  // Rows in parallel once there is enough work to pay for waking the pool.
  if (thread_count(pool) > 1 && m >= 4 && m * w.k >= (size_t{1} << 16)) {
    pthreadpool_parallelize_1d_tile_1d(pool, prepare_task, &ctx, m, 1, 0);
  } else {
    prepare_task(&ctx, 0, m);
  }
  acts.a = s.a.data();
  acts.sa8 = s.sa8.data();
  acts.zc = s.zc.data();
  acts.zpf = s.zpf.data();
  acts.scale = s.scale.data();
  return acts;
}

struct RunCtx {
  KernelFn fn;
  const KernelArgs* args;
};

void run_task(void* ctx, size_t m0, size_t t0, size_t mc, size_t tc) {
  const RunCtx& r = *static_cast<const RunCtx*>(ctx);
  r.fn(*r.args, m0, mc, t0, tc);
}

}  // namespace

void qd8_gemm(const PackedWeights& w, size_t m, const QD8Rows& a, float* out, size_t out_stride, pthreadpool_t pool,
              const GemmOptions& options) {
  if (m == 0) return;
  ETN_CHECK(w.data != nullptr, ErrorCode::InvalidArgument, "qd8_gemm: weights are not packed");
  ETN_CHECK(a.data != nullptr && a.params != nullptr && a.stride >= w.k, ErrorCode::InvalidArgument,
            "qd8_gemm: bad activations (stride ", a.stride, ", k ", w.k, ")");
  ETN_CHECK(out != nullptr && (m == 1 || out_stride >= w.n), ErrorCode::InvalidArgument,
            "qd8_gemm: bad output (stride ", out_stride, ", n ", w.n, ")");
  const Isa isa = resolve_isa(options.isa);
  Scratch& s = scratch();
  KernelArgs args;
  args.w = &w;
  args.acts = prepare_acts(w, m, a, isa, s, pool);
  args.out = out;
  args.out_stride = out_stride;
  args.out_min = options.out_min;
  args.out_max = options.out_max;
  RunCtx ctx{pick_kernel(isa, w.format), &args};

  // Rows in chunks whose prepared activations stay in L2 while the tiles stream by.
  const size_t mc = std::min(m, std::max<size_t>(8, (256 * 1024 / args.acts.a_stride) / 8 * 8));
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

void qd8_linear_f32(const PackedWeights& w, size_t m, const float* x, size_t x_stride, float* out,
                    size_t out_stride, pthreadpool_t pool, const GemmOptions& options) {
  if (m == 0) return;
  thread_local std::vector<int8_t> q;
  thread_local std::vector<QD8Params> params;
  if (q.size() < m * w.k) q.resize(m * w.k);
  if (params.size() < m) params.resize(m);
  quantize_rows_qd8(x, m, w.k, x_stride, q.data(), w.k, params.data(), options.isa);
  QD8Rows rows;
  rows.data = q.data();
  rows.stride = w.k;
  rows.params = params.data();
  qd8_gemm(w, m, rows, out, out_stride, pool, options);
}

}  // namespace etn::mk

namespace etn::mk::detail {

void prepare_row_scalar(const PrepareRowArgs& args, const int8_t* q, uint8_t* dst, int32_t* sa8) {
  const size_t k = args.k, kp = args.kp;
  switch (args.encoding) {
    case ActEncoding::Int8WithSums:
      std::memcpy(dst, q, k);
      std::memset(dst + k, 0, kp - k);
      for (size_t b = 0; b < args.nblocks; ++b) {
        const size_t kb = b * args.block_len, ke = std::min(kb + args.block_len, k);
        int32_t sum = 0;
        for (size_t kk = kb; kk < ke; ++kk) sum += q[kk];
        sa8[b] = 8 * sum;
      }
      break;
    case ActEncoding::Uint8:
      for (size_t kk = 0; kk < k; ++kk) dst[kk] = static_cast<uint8_t>(q[kk] ^ 0x80);
      std::memset(dst + k, 0x80, kp - k);
      break;
    case ActEncoding::Int16: {
      int16_t* d16 = reinterpret_cast<int16_t*>(dst);
      for (size_t kk = 0; kk < k; ++kk) d16[kk] = static_cast<int16_t>(q[kk] + 128);
      for (size_t kk = k; kk < kp; ++kk) d16[kk] = 128;
      break;
    }
  }
}

}  // namespace etn::mk::detail
