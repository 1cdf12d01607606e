// Tests (and a small benchmark) for the f32_qc8w microkernels (native/microkernels/
// f32_qc8w_gemm*): f32 activations x int8 weights with per-output-channel f32 scales.
//
//   etn_f32_qc8w_tests              test every ISA level this CPU supports, or only the
//                                   selected one if EXECUTORCH_NODE_ISA is set
//   etn_f32_qc8w_tests --list-isas  print the supported levels, one per line
//   etn_f32_qc8w_tests --bench      GEMV / GEMM speed per variant on [5632, 2048] and
//                                   [2048, 2048] weights
//
// Each kernel result is compared with a float64 reference written here from the
// unpacked weights: scale[n] * (sum_k x[m][k] * q[n][k] + bias[n]) (XNNPACK's
// f32_qc8w: the bias is scaled too). The tolerance is 1e-6 of
// |scale| * (sum_k |x q| + |bias|) (f32 accumulation over up to a few thousand terms
// in several partial sums); the worst ratio seen is printed.
// The last line is "N passed, M failed"; the exit code is 1 if anything failed.
#include <pthreadpool.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "microkernels/cpu_features.h"
#include "microkernels/f32_qc8w_gemm.h"
#include "runtime/error.h"

using namespace etn::mk;

namespace {

int g_passed = 0, g_failed = 0;
double g_worst_ratio = 0.0;
constexpr double kTolerance = 1e-6;

void check(bool ok, const std::string& what) {
  if (ok) {
    ++g_passed;
  } else {
    ++g_failed;
    std::printf("FAIL %s\n", what.c_str());
  }
}

template <typename... Args>
std::string fmt(const char* f, Args... args) {
  char buf[512];
  std::snprintf(buf, sizeof buf, f, args...);
  return buf;
}

// splitmix64
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed) {}
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return (next() >> 11) * (1.0 / 9007199254740992.0); }  // [0, 1)
  float normal() {
    const double u1 = uniform() + 1e-12, u2 = uniform();
    return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
  }
};

enum class Fill { Random, Extreme };

struct Weights {
  size_t n = 0, k = 0, stride = 0;
  std::vector<int8_t> q;
  std::vector<float> scales, bias;
  bool has_bias = false;
  F32QC8WSource source() const {
    F32QC8WSource s;
    s.n = n;
    s.k = k;
    s.data = q.data();
    s.row_stride = stride;
    s.scales = scales.data();
    s.bias = has_bias ? bias.data() : nullptr;
    return s;
  }
};

Weights make_weights(size_t n, size_t k, bool bias, Rng& rng, Fill fill = Fill::Random, size_t extra_stride = 0) {
  Weights w;
  w.n = n;
  w.k = k;
  w.stride = k + extra_stride;
  w.q.resize(n * w.stride);
  for (auto& v : w.q) v = fill == Fill::Random ? static_cast<int8_t>(rng.next()) : (rng.next() & 1 ? 127 : -128);
  w.scales.resize(n);
  for (auto& s : w.scales) s = static_cast<float>(0.001 * (0.5 + rng.uniform()));
  w.has_bias = bias;
  w.bias.resize(n);
  for (auto& b : w.bias) b = rng.normal();
  return w;
}

struct Acts {
  size_t m = 0, k = 0, stride = 0;
  std::vector<float> x;
};

Acts make_acts(size_t m, size_t k, Rng& rng, Fill fill = Fill::Random, size_t extra_stride = 0) {
  Acts a;
  a.m = m;
  a.k = k;
  a.stride = k + extra_stride;
  a.x.assign(m * a.stride, 1e30f);  // junk between rows must be ignored
  for (size_t i = 0; i < m; ++i) {
    const int kind = static_cast<int>(i % 4);  // mixed, positive and large, negative, tiny
    for (size_t j = 0; j < k; ++j) {
      float v = rng.normal();
      if (fill == Fill::Extreme) v = (j % 2) ? 1e4f : -3e4f;
      else if (kind == 1) v = std::fabs(v) * 30.0f;
      else if (kind == 2) v = -std::fabs(v);
      else if (kind == 3) v *= 1e-3f;
      a.x[i * a.stride + j] = v;
    }
  }
  return a;
}

// out = scale * (x . q + bias) in float64; mag = |scale| * (sum |x q| + |bias|).
void reference(const Weights& w, const Acts& a, std::vector<double>& out, std::vector<double>& mag) {
  out.assign(a.m * w.n, 0.0);
  mag.assign(a.m * w.n, 0.0);
  for (size_t n = 0; n < w.n; ++n) {
    const int8_t* q = w.q.data() + n * w.stride;
    for (size_t m = 0; m < a.m; ++m) {
      const float* x = a.x.data() + m * a.stride;
      double sum = 0.0, abs_sum = 0.0;
      for (size_t k = 0; k < w.k; ++k) {
        sum += static_cast<double>(x[k]) * q[k];
        abs_sum += std::fabs(static_cast<double>(x[k]) * q[k]);
      }
      const double b = w.has_bias ? w.bias[n] : 0.0;
      out[m * w.n + n] = w.scales[n] * (sum + b);
      mag[m * w.n + n] = w.scales[n] * (abs_sum + std::fabs(b));
    }
  }
}

std::vector<Isa> isas_under_test() {
  if (const char* env = std::getenv("EXECUTORCH_NODE_ISA"); env != nullptr && env[0] != '\0')
    return {selected_isa()};
  std::vector<Isa> isas;
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512})
    if (isa_supported(isa)) isas.push_back(isa);
  return isas;
}

// Packs `w` and runs it on every ISA against the reference; the output's padding
// columns (out_stride > n) must stay untouched.
void check_gemm(const Weights& w, const Acts& a, const std::vector<Isa>& isas, pthreadpool_t pool,
                const char* tag = "", float out_min = -INFINITY, float out_max = INFINITY, size_t out_extra = 0) {
  std::vector<double> ref, mag;
  reference(w, a, ref, mag);
  const F32QC8WWeights packed = pack_f32_qc8w_weights(w.source(), pool);
  const size_t out_stride = w.n + out_extra;
  for (Isa isa : isas) {
    std::vector<float> out(a.m * out_stride, 12345.0f);
    GemmOptions opt;
    opt.isa = isa;
    opt.out_min = out_min;
    opt.out_max = out_max;
    f32_qc8w_gemm(packed, a.m, a.x.data(), a.stride, out.data(), out_stride, pool, opt);
    size_t bad = 0;
    std::string first;
    double worst = 0.0;
    for (size_t m = 0; m < a.m; ++m) {
      for (size_t n = 0; n < out_stride; ++n) {
        const double got = out[m * out_stride + n];
        if (n >= w.n) {
          if (got != 12345.0f && bad++ == 0) first = fmt("padding [%zu][%zu] written: %.9g", m, n, got);
          continue;
        }
        const double want = std::min<double>(std::max<double>(ref[m * w.n + n], out_min), out_max);
        const double err = std::fabs(got - want), tol = kTolerance * mag[m * w.n + n] + 1e-30;
        if (mag[m * w.n + n] > 0) worst = std::max(worst, err / mag[m * w.n + n]);
        if (!(err <= tol) && bad++ == 0)
          first = fmt("[%zu][%zu] got %.9g want %.9g (tolerance %.3g)", m, n, got, want, tol);
      }
    }
    g_worst_ratio = std::max(g_worst_ratio, worst);
    std::string what = fmt("%s f32_qc8w M=%zu N=%zu K=%zu%s%s", isa_name(isa), a.m, w.n, w.k,
                           w.has_bias ? " bias" : "", tag);
    if (bad) what += fmt(": %zu bad values, first %s", bad, first.c_str());
    check(bad == 0, what);
  }
}

void test_gemm(const std::vector<Isa>& isas, pthreadpool_t pool2) {
  Rng rng(2024);
  // K: 1, below / not a multiple of the vector widths (8, 16) and of a cache line of
  // k (4), above the 8-chain step; N: below a tile, odd, tile + 1, prime.
  const size_t Ms[] = {1, 2, 7, 64, 130};
  const size_t Ns[] = {1, 5, 17, 33, 97};
  const size_t Ks[] = {1, 3, 17, 100, 1001, 2049};
  int variant = 0;
  for (size_t k : Ks) {
    for (size_t n : Ns) {
      ++variant;
      const size_t extra = variant % 3 == 0 ? 3 : 0;  // non-dense weight rows sometimes
      for (bool bias : {false, true}) {
        const Weights w = make_weights(n, k, bias, rng, Fill::Random, extra);
        for (size_t m : Ms) {
          // The largest shapes once (with bias), to keep the float64 reference quick.
          if (k * n * m > 4'000'000 && !bias) continue;
          const Acts a = make_acts(m, k, rng, Fill::Random, variant % 5 == 0 ? 5 : 0);
          check_gemm(w, a, isas, nullptr, "", -INFINITY, INFINITY, variant % 4 == 0 ? 2 : 0);
        }
      }
    }
  }
  // The tails of every kernel's row blocking (scalar 4, avx2 4, avx512 8).
  {
    const Weights w = make_weights(21, 37, true, rng);
    for (size_t m : {3, 4, 5, 6, 8, 9, 11, 15, 16, 17}) check_gemm(w, make_acts(m, 37, rng), isas, nullptr, " tails");
  }
  // Extreme values: int8 limits times large activations.
  {
    const Weights w = make_weights(33, 1024 + 7, true, rng, Fill::Extreme);
    check_gemm(w, make_acts(5, 1024 + 7, rng, Fill::Extreme), isas, nullptr, " extreme");
  }
  // Clamping.
  {
    const Weights w = make_weights(50, 300, true, rng);
    check_gemm(w, make_acts(9, 300, rng), isas, nullptr, " clamp", -0.25f, 0.5f);
  }
  // A 2-thread pool: several row chunks and tiles (K = 2049 gives 32-row chunks).
  for (size_t m : {1, 7, 130}) {
    const Weights w = make_weights(97, 2049, true, rng);
    check_gemm(w, make_acts(m, 2049, rng), isas, pool2, " threads=2");
  }
  // Results do not depend on the pool; packing in parallel gives the same bytes; a row
  // alone (GEMV) gives the same values as inside a GEMM batch (same kernel per ISA,
  // up to the chain count of its row block: compared within the tolerance).
  {
    const size_t m = 70, n = 97, k = 4100;
    const Weights w = make_weights(n, k, true, rng);
    const Acts a = make_acts(m, k, rng);
    const F32QC8WWeights p1 = pack_f32_qc8w_weights(w.source(), nullptr);
    const F32QC8WWeights p2 = pack_f32_qc8w_weights(w.source(), pool2);
    check(p1.bytes() == p2.bytes() && std::memcmp(p1.data.get(), p2.data.get(), p1.bytes()) == 0,
          "parallel pack identical");
    // Memory: one byte per weight plus 128 bytes of scales and biases per 16 channels.
    const size_t tiles = (n + 15) / 16;
    check(p1.bytes() == tiles * (((k * 16 + 63) / 64) * 64 + 128), fmt("packed size %zu bytes", p1.bytes()));
    for (Isa isa : isas) {
      GemmOptions opt;
      opt.isa = isa;
      std::vector<float> o1(m * n), o2(m * n), o3(n);
      f32_qc8w_gemm(p1, m, a.x.data(), k, o1.data(), n, nullptr, opt);
      f32_qc8w_gemm(p1, m, a.x.data(), k, o2.data(), n, pool2, opt);
      check(o1 == o2, fmt("%s threads=1 and threads=2 bit-identical", isa_name(isa)));
      f32_qc8w_gemm(p1, 1, a.x.data() + 5 * k, k, o3.data(), n, pool2, opt);
      bool close = true;
      for (size_t j = 0; j < n; ++j) {
        double mag = std::fabs(w.bias[j]);
        for (size_t kk = 0; kk < k; ++kk) mag += std::fabs(static_cast<double>(a.x[5 * k + kk]) * w.q[j * k + kk]);
        mag *= w.scales[j];
        close = close && std::fabs(o3[j] - o1[5 * n + j]) <= 2 * kTolerance * mag;
      }
      check(close, fmt("%s GEMV row == GEMM row (within twice the tolerance)", isa_name(isa)));
    }
  }
  // Invalid sources are rejected with etn::Error, not a crash.
  {
    auto rejects = [](F32QC8WSource s) {
      try {
        pack_f32_qc8w_weights(s);
        return false;
      } catch (const etn::Error& e) {
        return e.code() == etn::ErrorCode::InvalidArgument;
      }
    };
    const Weights w = make_weights(4, 64, false, rng);
    const F32QC8WSource s = w.source();
    F32QC8WSource no_scales = s, no_data = s, empty = s, short_stride = s;
    no_scales.scales = nullptr;
    no_data.data = nullptr;
    empty.n = 0;
    short_stride.row_stride = 10;
    check(rejects(no_scales) && rejects(no_data) && rejects(empty) && rejects(short_stride),
          "pack rejects invalid sources");
  }
}

// ---------------------------------------------------------------------------------
// Benchmark: ms per call and GB/s of packed weights for M = 1 (decode) and M = 64
// (prefill), 1 and 2 threads. "cold" cycles through copies totalling >= 256 MiB so
// every call streams its weights from DRAM, like decoding a real model.
// ---------------------------------------------------------------------------------
double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void bench() {
  Rng rng(99);
  pthreadpool_t pool2 = pthreadpool_create(2);
  std::printf("cpu: %s\n", cpu_features_string().c_str());
  for (const auto& shape : {std::make_pair<size_t, size_t>(5632, 2048), std::make_pair<size_t, size_t>(2048, 2048)}) {
    const size_t n = shape.first, k = shape.second;
    const Weights w = make_weights(n, k, true, rng);
    const double t0 = now_s();
    std::vector<F32QC8WWeights> copies;
    copies.push_back(pack_f32_qc8w_weights(w.source(), nullptr));
    const double t_pack = now_s() - t0;
    const size_t bytes = copies[0].bytes();
    while (copies.size() * bytes < (size_t{256} << 20)) copies.push_back(pack_f32_qc8w_weights(w.source(), pool2));
    std::printf("[%zu, %zu]: packed %.2f MB, pack %.1f ms single-threaded, %zu copies for cold runs\n", n, k,
                bytes / 1e6, t_pack * 1e3, copies.size());
    for (Isa isa : {Isa::Avx512, Isa::Avx2, Isa::Scalar}) {
      if (!isa_supported(isa)) continue;
      GemmOptions opt;
      opt.isa = isa;
      for (size_t m : {size_t{1}, size_t{64}}) {
        const Acts a = make_acts(m, k, rng);
        std::vector<float> out(m * n);
        for (int threads : {1, 2}) {
          pthreadpool_t pool = threads == 1 ? nullptr : pool2;
          auto run = [&](const F32QC8WWeights& p) { f32_qc8w_gemm(p, m, a.x.data(), k, out.data(), n, pool, opt); };
          for (int i = 0; i < 5; ++i) run(copies[0]);
          // Best per-call time over batches (cold: one pass over all copies).
          const double budget = isa == Isa::Scalar ? 0.3 : 1.0;
          auto measure = [&](bool cold) {
            double best = 1e9;
            const double start = now_s();
            int reps = 0;
            do {
              const size_t batch = cold ? copies.size() : std::max<size_t>(1, 20 / m);
              const double s = now_s();
              for (size_t c = 0; c < batch; ++c) run(cold ? copies[c] : copies[0]);
              best = std::min(best, (now_s() - s) / batch);
            } while (now_s() - start < budget || ++reps < 3);
            return best;
          };
          const double hot = measure(false), cold = measure(true);
          std::printf("  %-6s M=%-3zu threads=%d  hot %8.3f ms %6.1f GB/s | cold %8.3f ms %6.1f GB/s %7.1f GFLOP/s\n",
                      isa_name(isa), m, threads, hot * 1e3, bytes / hot / 1e9, cold * 1e3, bytes / cold / 1e9,
                      2.0 * m * n * k / cold / 1e9);
        }
      }
    }
  }
  pthreadpool_destroy(pool2);
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--list-isas") == 0) {
      for (Isa isa : {Isa::Avx512, Isa::Avx2, Isa::Scalar})
        if (isa_supported(isa)) std::printf("%s\n", isa_name(isa));
      return 0;
    }
    if (std::strcmp(argv[i], "--bench") == 0) {
      bench();
      return 0;
    }
  }
  const std::vector<Isa> isas = isas_under_test();
  std::printf("cpu: %s\n", cpu_features_string().c_str());
  std::string list;
  for (Isa isa : isas) list += std::string(list.empty() ? "" : " ") + isa_name(isa);
  std::printf("testing isa: %s\n", list.c_str());
  pthreadpool_t pool2 = pthreadpool_create(2);
  try {
    test_gemm(isas, pool2);
  } catch (const std::exception& e) {
    check(false, std::string("exception: ") + e.what());
  }
  pthreadpool_destroy(pool2);
  std::printf("worst |error| / (|scale| (sum|x q| + |bias|)): %.3g (tolerance %.0e)\n", g_worst_ratio, kTolerance);
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
