// How the JS reference (lib/export/passes/quantize-weights.ts) rounds, and how this file
// reproduces it; both follow torchao's float32 arithmetic:
//
//   JS                                         here
//   Math.fround(maxAbs / qabs)                 (float)((double)maxAbs / qabs)
//   Math.fround(w / scale)  (w, scale floats)  w / scale in float: a float quotient
//                                              rounded to double and then to float is
//                                              the correctly rounded float quotient
//                                              (53 >= 2 * 24 + 2 bits, subnormal
//                                              results included), which is what float
//                                              division gives
//   round half even, then clamp                clamp, then round half even (the same
//                                              for integer bounds); NaN -> 0, what
//                                              storing NaN into an Int8Array gives
//   products[c] = w * q  (a Float32Array)      w * q in float (correctly rounded)
//   torchRowSum(products), torchRowSum(q * q)  torchRowSum (torch_row_sum.cpp): float32
//                                              additions in PyTorch's order
//   Math.fround(num / den)                     num / den in float
//   fround(fround(|next - s|) / max(s, eps))   the same float operations
//   Math.max (NaN wins)                        jsMax
//
// Built without -ffast-math; the (x + 1.5 * 2^23) - 1.5 * 2^23 rounding trick relies on
// the default round-to-nearest-even mode, which pthreadpool leaves alone as long as
// PTHREADPOOL_FLAG_DISABLE_DENORMALS is not passed (denormal weights must stay
// denormal, as they do in JS).
//
// Speed: each HQQ iteration only revisits groups whose scale still moves. A group
// whose next scale equals its current one bit for bit is at a fixed point (its codes,
// hence its next scale, depend on nothing else), so skipping it changes no result.
// The elementwise loops get an AVX2 clone, picked at load time (the same IEEE results:
// AVX2 brings no FMA, and nothing here is contracted).
#include "quantize_symmetric.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "../runtime/error.h"
#include "torch_row_sum.h"

namespace etn::exporter {

namespace {

constexpr float kEps = 1.1920928955078125e-7f;  // torch.finfo(torch.float32).eps
constexpr int kIterations = 20;
constexpr double kTolerance = 1e-5;
constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23: adding it rounds |x| <= 2^22 to an integer
constexpr size_t kTileElements = 16384;     // work per pthreadpool task
constexpr size_t kParallelElements = 1 << 16;  // below this, threads cost more than they save

// Math.max: NaN if either operand is NaN (std::max would pick by comparison).
inline double jsMax(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<double>::quiet_NaN();
  return a > b ? a : b;
}

// A NaN scale is written as the quiet NaN JS engines store into a Float32Array.
inline float canonical(float x) { return std::isnan(x) ? std::numeric_limits<float>::quiet_NaN() : x; }

struct Job {
  const float* w;
  size_t n;  // group size
  size_t groups;
  float lo, hi;
  double qabs;
  float* scales;
  int8_t* q;
  std::vector<uint8_t> settled;   // 1: the group's scale is at a fixed point
  std::vector<double> tileMoved;  // per task: largest relative scale change
  size_t tile;                    // groups per task
};

// round_half_even(w / scale) clamped to [lo, hi], as a float holding an integer.
inline float codeOf(float w, float scale, float lo, float hi) {
  float x = w / scale;
  x = x < lo ? lo : x;
  x = x > hi ? hi : x;
  x = x == x ? x : 0.0f;
  return (x + kRoundMagic) - kRoundMagic;
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ETN_X86_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define ETN_X86_CLONES
#endif

// The next HQQ scale of group gi: quantize with the current scale, then the
// least-squares scale for those codes. `scratch` holds 2 * n floats.
ETN_X86_CLONES float hqqNext(const Job& job, size_t gi, float* scratch) {
  const size_t n = job.n;
  const float* wg = job.w + gi * n;
  const float s = job.scales[gi];
  float* products = scratch;
  float* squares = scratch + n;
  for (size_t i = 0; i < n; ++i) {
    const float code = codeOf(wg[i], s, job.lo, job.hi);
    products[i] = wg[i] * code;
    squares[i] = code * code;
  }
  const float num = torchRowSum(products, n);
  const float den = torchRowSum(squares, n);
  const float ls = den > 0 ? num / den : s;
  return canonical(static_cast<float>(std::fabs(jsMax(ls, kEps))));
}

ETN_X86_CLONES void initTask(void* ctx, size_t start, size_t count) {
  Job& job = *static_cast<Job*>(ctx);
  for (size_t gi = start; gi < start + count; ++gi) {
    const float* wg = job.w + gi * job.n;
    float maxAbs = 0;
    bool nan = false;
    for (size_t c = 0; c < job.n; ++c) {
      const float a = std::fabs(wg[c]);
      nan |= a != a;
      maxAbs = a > maxAbs ? a : maxAbs;
    }
    const double m = nan ? std::numeric_limits<double>::quiet_NaN() : maxAbs;
    job.scales[gi] = canonical(static_cast<float>(jsMax(static_cast<float>(m / job.qabs), kEps)));
  }
}

void stepTask(void* ctx, size_t start, size_t count) {
  Job& job = *static_cast<Job*>(ctx);
  double moved = 0;
  std::vector<float> scratch(2 * job.n);
  for (size_t gi = start; gi < start + count; ++gi) {
    if (job.settled[gi]) continue;
    const float s = job.scales[gi];
    const float next = hqqNext(job, gi, scratch.data());
    const float diff = std::fabs(next - s);
    const float rel = diff / static_cast<float>(jsMax(s, kEps));
    moved = jsMax(moved, rel);
    if (next == s) job.settled[gi] = 1;
    job.scales[gi] = next;
  }
  job.tileMoved[start / job.tile] = moved;
}

ETN_X86_CLONES void finalTask(void* ctx, size_t start, size_t count) {
  Job& job = *static_cast<Job*>(ctx);
  for (size_t gi = start; gi < start + count; ++gi) {
    const float* wg = job.w + gi * job.n;
    int8_t* qg = job.q + gi * job.n;
    const float s = job.scales[gi];
    for (size_t c = 0; c < job.n; ++c) qg[c] = static_cast<int8_t>(codeOf(wg[c], s, job.lo, job.hi));
  }
}

}  // namespace

void checkSymmetricQuantizationShape(const SymmetricQuantizationShape& s) {
  ETN_CHECK(s.groupSize > 0, ErrorCode::InvalidArgument, "quantizeSymmetric: the group size must be positive");
  ETN_CHECK(s.cols % s.groupSize == 0, ErrorCode::InvalidArgument, "quantizeSymmetric: ", s.cols,
            " input channels are not a multiple of the group size ", s.groupSize);
  ETN_CHECK(s.qmin >= -128 && s.qmax <= 127 && s.qmin < s.qmax, ErrorCode::InvalidArgument,
            "quantizeSymmetric: range [", s.qmin, ", ", s.qmax, "] is not an int8 range");
  ETN_CHECK(s.cols == 0 || s.rows <= std::numeric_limits<size_t>::max() / s.cols, ErrorCode::InvalidArgument,
            "quantizeSymmetric: [", s.rows, ", ", s.cols, "] is too large");
}

void quantizeSymmetric(const float* w, const SymmetricQuantizationShape& s, int8_t* q, float* scales, pthreadpool_t pool) {
  checkSymmetricQuantizationShape(s);
  const size_t elements = s.rows * s.cols;
  Job job;
  job.w = w;
  job.n = s.groupSize;
  job.groups = elements / s.groupSize;
  job.lo = static_cast<float>(s.qmin);
  job.hi = static_cast<float>(s.qmax);
  job.qabs = std::max(std::abs(s.qmin), std::abs(s.qmax));
  job.scales = scales;
  job.q = q;
  if (job.groups == 0) return;
  job.tile = std::max<size_t>(1, kTileElements / s.groupSize);
  job.settled.assign(job.groups, 0);
  job.tileMoved.assign((job.groups + job.tile - 1) / job.tile, 0);
  if (elements < kParallelElements) pool = nullptr;

  pthreadpool_parallelize_1d_tile_1d(pool, initTask, &job, job.groups, job.tile, 0);
  for (int it = 0; it < kIterations; ++it) {
    // One parallel pass per iteration: returning from it is the barrier the
    // tensor-wide convergence test needs.
    pthreadpool_parallelize_1d_tile_1d(pool, stepTask, &job, job.groups, job.tile, 0);
    double moved = 0;
    for (double m : job.tileMoved) moved = jsMax(moved, m);
    if (moved < kTolerance) break;
  }
  pthreadpool_parallelize_1d_tile_1d(pool, finalTask, &job, job.groups, job.tile, 0);
}

}  // namespace etn::exporter
