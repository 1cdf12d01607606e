// Tests (and a small benchmark) for native/microkernels: CPU feature selection,
// per-token qd8 quantization and the qd8 x {qb4w, qc4w, qc8w} GEMM/GEMV kernels.
//
//   etn_microkernel_tests              test every ISA level this CPU supports, or only
//                                      the selected one if EXECUTORCH_NODE_ISA is set
//   etn_microkernel_tests --list-isas  print the supported levels, one per line
//   etn_microkernel_tests --bench [qb4w|qc4w|qc8w [avx512|avx2|scalar]]
//                                      GEMV 2048x2048 weight-streaming GB/s per variant
//
// Every kernel result is compared with a float64 reference of the same math written
// here from the unpacked weights: dequantize activations and weights, multiply, add.
// The last line is "N passed, M failed"; the exit code is 1 if anything failed.
#include <pthreadpool.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

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
#include "microkernels/qd8_gemm.h"
#include "microkernels/quantize_rows.h"
#include "runtime/error.h"

using namespace etn::mk;

namespace {

int g_passed = 0, g_failed = 0;

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
  int range(int lo, int hi) { return lo + static_cast<int>(next() % static_cast<uint64_t>(hi - lo + 1)); }
  float normal() {
    const double u1 = uniform() + 1e-12, u2 = uniform();
    return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
  }
};

uint16_t f32_to_bf16(float f) {  // round to nearest even
  uint32_t b;
  std::memcpy(&b, &f, 4);
  b += 0x7FFF + ((b >> 16) & 1);
  return static_cast<uint16_t>(b >> 16);
}

double bf16_value(uint16_t v) {
  const uint32_t b = static_cast<uint32_t>(v) << 16;
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

// Unpacked weights in the .pte layout, plus accessors for the reference.
struct Weights {
  WeightFormat format;
  size_t n = 0, k = 0, block = 32, stride = 0;
  std::vector<uint8_t> data;
  std::vector<uint16_t> scales_bf16;
  std::vector<float> scales_f32, bias;
  bool has_bias = false;

  size_t nblocks() const { return (k + block - 1) / block; }
  int value(size_t row, size_t col) const {  // the signed quantized weight
    if (format == WeightFormat::QC8W) return static_cast<int8_t>(data[row * stride + col]);
    const uint8_t byte = data[row * stride + col / 2];
    return ((col & 1) ? byte >> 4 : byte & 15) - 8;
  }
  double scale(size_t row, size_t col) const {
    if (format == WeightFormat::QB4W) return bf16_value(scales_bf16[row * nblocks() + col / block]);
    return scales_f32[row];
  }
  WeightSource source() const {
    WeightSource s;
    s.format = format;
    s.n = n;
    s.k = k;
    s.data = data.data();
    s.row_stride = stride;
    s.scales_bf16 = scales_bf16.empty() ? nullptr : scales_bf16.data();
    s.scales_f32 = scales_f32.empty() ? nullptr : scales_f32.data();
    s.block_size = block;
    s.bias = has_bias ? bias.data() : nullptr;
    return s;
  }
};

enum class Fill { Random, Extreme, Max };

Weights make_weights(WeightFormat format, size_t n, size_t k, size_t block, bool bias, Rng& rng,
                     Fill fill = Fill::Random, size_t extra_stride = 0) {
  Weights w;
  w.format = format;
  w.n = n;
  w.k = k;
  w.block = format == WeightFormat::QB4W ? block : k;
  const bool four = format != WeightFormat::QC8W;
  w.stride = (four ? (k + 1) / 2 : k) + extra_stride;
  w.data.resize(n * w.stride);
  for (auto& b : w.data) {
    if (fill == Fill::Random) {
      b = static_cast<uint8_t>(rng.next());
    } else if (fill == Fill::Max) {
      b = four ? 0xFF : 0x7F;  // every weight at its positive maximum
    } else if (four) {
      b = rng.next() & 1 ? 0x00 : 0xFF;  // u = 0 or 15: w = -8 or 7
    } else {
      b = rng.next() & 1 ? 0x80 : 0x7F;  // w = -128 or 127
    }
  }
  if (format == WeightFormat::QB4W) {
    w.scales_bf16.resize(n * w.nblocks());
    for (auto& s : w.scales_bf16) s = f32_to_bf16(static_cast<float>(0.002 + 0.02 * rng.uniform()));
  } else {
    w.scales_f32.resize(n);
    for (auto& s : w.scales_f32) s = static_cast<float>((four ? 0.01 : 0.001) * (0.5 + rng.uniform()));
  }
  w.has_bias = bias;
  w.bias.resize(n);
  for (auto& b : w.bias) b = rng.normal();
  return w;
}

// Activations, quantized with the scalar path (all paths are bit-identical; that is
// tested separately).
struct Acts {
  size_t m = 0, k = 0, stride = 0;
  std::vector<float> x;
  std::vector<int8_t> q;
  std::vector<QD8Params> params;
  QD8Rows rows() const {
    QD8Rows r;
    r.data = q.data();
    r.stride = stride;
    r.params = params.data();
    return r;
  }
};

Acts make_acts(size_t m, size_t k, Rng& rng, Fill fill = Fill::Random, size_t extra_stride = 0) {
  Acts a;
  a.m = m;
  a.k = k;
  a.stride = k + extra_stride;
  a.x.resize(m * k);
  for (size_t i = 0; i < m; ++i) {
    const int kind = static_cast<int>(i % 4);  // mixed signs, mostly positive, mostly negative, tiny
    for (size_t j = 0; j < k; ++j) {
      float v = rng.normal();
      if (fill == Fill::Extreme) v = (j % 2) ? 1.0f : -1.0f;  // -> q = -128 / 127
      else if (fill == Fill::Max) v = 1.0f;                   // -> q = 127, zp = -128
      else if (kind == 1) v = std::fabs(v) * 3.0f;
      else if (kind == 2) v = -std::fabs(v) + 0.05f;
      else if (kind == 3) v *= 1e-3f;
      a.x[i * k + j] = v;
    }
  }
  a.q.assign(m * a.stride, 0x55);  // junk between rows must be ignored
  a.params.resize(m);
  quantize_rows_qd8(a.x.data(), m, k, k, a.q.data(), a.stride, a.params.data(), Isa::Scalar);
  return a;
}

// out = dq(a) x dq(w)^T + bias in float64; mag = the same sum of absolute terms, with
// |a - zp| replaced by |a| + |zp| (the kernels subtract the zero point after the dot).
void reference(const Weights& w, const Acts& a, std::vector<double>& out, std::vector<double>& mag) {
  out.assign(a.m * w.n, 0.0);
  mag.assign(a.m * w.n, 0.0);
  std::vector<double> dw(w.k);
  std::vector<double> aw(w.k);
  for (size_t n = 0; n < w.n; ++n) {
    for (size_t k = 0; k < w.k; ++k) dw[k] = w.value(n, k) * w.scale(n, k);
    for (size_t m = 0; m < a.m; ++m) {
      const int8_t* q = a.q.data() + m * a.stride;
      const double s = a.params[m].scale;
      const int zp = a.params[m].zero_point;
      double sum = 0.0, abs_sum = 0.0;
      for (size_t k = 0; k < w.k; ++k) {
        sum += (q[k] - zp) * s * dw[k];
        abs_sum += (std::abs(q[k]) + std::abs(zp)) * s * std::fabs(dw[k]);
      }
      const double b = w.has_bias ? w.bias[n] : 0.0;
      out[m * w.n + n] = sum + b;
      mag[m * w.n + n] = abs_sum + std::fabs(b);
    }
  }
}

std::vector<Isa> isas_under_test() {
  std::vector<Isa> isas;
  if (const char* env = std::getenv("EXECUTORCH_NODE_ISA"); env != nullptr && env[0] != '\0') {
    isas.push_back(selected_isa());
    return isas;
  }
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512})
    if (isa_supported(isa)) isas.push_back(isa);
  return isas;
}

std::string shape_name(const Weights& w, size_t m) {
  std::string s = fmt("%s M=%zu N=%zu K=%zu", weight_format_name(w.format), m, w.n, w.k);
  if (w.format == WeightFormat::QB4W) s += fmt(" block=%zu", w.block);
  if (w.has_bias) s += " bias";
  return s;
}

double g_worst_ratio = 0.0;  // max |err| / mag seen, for the record

// Runs one packed weight set on every ISA against the reference.
void check_gemm(const Weights& w, const Acts& a, const std::vector<Isa>& isas, pthreadpool_t pool,
                const char* tag = "", float out_min = -INFINITY, float out_max = INFINITY,
                size_t out_extra_stride = 0) {
  std::vector<double> ref, mag;
  reference(w, a, ref, mag);
  const WeightSource src = w.source();
  PackedWeights packed = pack_qd8_weights(src, pool);
  const size_t out_stride = w.n + out_extra_stride;
  for (Isa isa : isas) {
    std::vector<float> out(a.m * out_stride, 12345.0f);
    GemmOptions opt;
    opt.isa = isa;
    opt.out_min = out_min;
    opt.out_max = out_max;
    qd8_gemm(packed, a.m, a.rows(), out.data(), out_stride, pool, opt);
    double worst = 0.0;
    size_t bad = 0, first_m = 0, first_n = 0;
    double first_got = 0, first_want = 0;
    for (size_t m = 0; m < a.m; ++m) {
      for (size_t n = 0; n < w.n; ++n) {
        const double want = std::min<double>(std::max<double>(ref[m * w.n + n], out_min), out_max);
        const double got = out[m * out_stride + n];
        const double tol = 2e-5 * mag[m * w.n + n] + 1e-30;
        const double err = std::fabs(got - want);
        if (mag[m * w.n + n] > 0) worst = std::max(worst, err / mag[m * w.n + n]);
        if (!(err <= tol)) {
          if (bad++ == 0) {
            first_m = m;
            first_n = n;
            first_got = got;
            first_want = want;
          }
        }
      }
      for (size_t n = w.n; n < out_stride; ++n) {
        if (out[m * out_stride + n] != 12345.0f && bad++ == 0) {
          first_m = m;
          first_n = n;
          first_got = out[m * out_stride + n];
          first_want = 12345.0;
        }
      }
    }
    g_worst_ratio = std::max(g_worst_ratio, worst);
    std::string what = fmt("%s %s%s", isa_name(isa), shape_name(w, a.m).c_str(), tag);
    if (bad) {
      what += fmt(": %zu bad values, first [%zu][%zu] got %.9g want %.9g", bad, first_m, first_n, first_got,
                  first_want);
    }
    check(bad == 0, what);
  }
}

void test_isa_selection() {
  check(isa_supported(Isa::Scalar), "scalar is always supported");
  check(isa_supported(best_isa()), "best_isa is supported");
  check(isa_supported(selected_isa()), "selected_isa is supported");
  check(isa_supported(resolve_isa(Isa::Avx512)) && isa_supported(resolve_isa(Isa::Avx2)),
        "resolve_isa falls back to a supported level");
  Isa p;
  check(parse_isa("AVX512", &p) && p == Isa::Avx512 && parse_isa("avx2", &p) && p == Isa::Avx2 &&
            parse_isa("scalar", &p) && p == Isa::Scalar && parse_isa("auto", &p) && p == Isa::Auto &&
            !parse_isa("sse", &p) && !parse_isa("", &p),
        "parse_isa");
}

void test_quantize(const std::vector<Isa>& isas) {
  // Hand-computed: rmin -1, rmax 2 -> m = 85, zp = -128 + 85 = -43.
  {
    const float x[4] = {-1.0f, 0.0f, 1.0f, 2.0f};
    for (Isa isa : isas) {
      int8_t q[4];
      QD8Params p;
      quantize_rows_qd8(x, 1, 4, 4, q, 4, &p, isa);
      check(p.zero_point == -43 && p.scale == 1.0f / 85.0f && q[0] == -128 && q[1] == -43 && q[2] == 42 &&
                q[3] == 127,
            fmt("%s quantize [-1 0 1 2] -> zp %d q %d %d %d %d", isa_name(isa), p.zero_point, q[0], q[1], q[2],
                q[3]));
    }
  }
  // All-zero row: m = 1, zp = 127 (XNNPACK's choice), everything dequantizes to 0.
  {
    const float x[5] = {0, 0, 0, 0, 0};
    for (Isa isa : isas) {
      int8_t q[5];
      QD8Params p;
      quantize_rows_qd8(x, 1, 5, 5, q, 5, &p, isa);
      bool ok = p.scale == 1.0f && p.zero_point == 127;
      for (int i = 0; i < 5; ++i) ok = ok && q[i] == 127;
      check(ok, fmt("%s quantize zero row (zp %d scale %g)", isa_name(isa), p.zero_point, p.scale));
    }
  }
  // Positive-only and negative-only rows pin the zero point to an end of the range.
  {
    const float pos[3] = {0.5f, 1.0f, 3.0f}, neg[3] = {-0.5f, -1.0f, -3.0f};
    QD8Params p1, p2;
    int8_t q[3];
    quantize_rows_qd8(pos, 1, 3, 3, q, 3, &p1, Isa::Scalar);
    quantize_rows_qd8(neg, 1, 3, 3, q, 3, &p2, Isa::Scalar);
    check(p1.zero_point == -128 && p2.zero_point == 127,
          fmt("quantize one-signed rows: zp %d / %d", p1.zero_point, p2.zero_point));
  }
  // Random rows of many lengths: every ISA bit-identical to scalar; the error of each
  // value within half a step; zero exactly representable.
  Rng rng(7);
  for (size_t k : {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 255, 1000, 4099}) {
    const size_t m = 5;
    std::vector<float> x(m * k);
    for (size_t i = 0; i < m * k; ++i) x[i] = rng.normal() * (i % 3 == 0 ? 4.0f : 1.0f) + (i % 5 == 0 ? 1.0f : 0.0f);
    std::vector<int8_t> q0(m * k), q1(m * k);
    std::vector<QD8Params> p0(m), p1(m);
    quantize_rows_qd8(x.data(), m, k, k, q0.data(), k, p0.data(), Isa::Scalar);
    bool props = true;
    for (size_t i = 0; i < m && props; ++i) {
      const QD8Params p = p0[i];
      props = p.zero_point >= -128 && p.zero_point <= 127 && p.scale > 0;
      for (size_t j = 0; j < k; ++j) {
        const double dq = (q0[i * k + j] - p.zero_point) * static_cast<double>(p.scale);
        if (std::fabs(dq - x[i * k + j]) > 0.5001 * p.scale) props = false;
      }
    }
    check(props, fmt("quantize K=%zu: values within half a step", k));
    for (Isa isa : isas) {
      if (isa == Isa::Scalar) continue;
      quantize_rows_qd8(x.data(), m, k, k, q1.data(), k, p1.data(), isa);
      bool same = q0 == q1;
      for (size_t i = 0; i < m; ++i)
        same = same && p0[i].scale == p1[i].scale && p0[i].zero_point == p1[i].zero_point;
      check(same, fmt("%s quantize K=%zu bit-identical to scalar", isa_name(isa), k));
    }
  }
}

void test_gemm(const std::vector<Isa>& isas, pthreadpool_t pool2) {
  Rng rng(12345);
  struct Fmt {
    WeightFormat f;
    size_t block;
  };
  const Fmt formats[] = {{WeightFormat::QB4W, 32}, {WeightFormat::QB4W, 64}, {WeightFormat::QB4W, 96},
                         {WeightFormat::QC4W, 0},  {WeightFormat::QC8W, 0}};
  const size_t Ms[] = {1, 2, 3, 7, 9, 13};
  const size_t Ns[] = {1, 5, 16, 17, 97};
  const size_t Ks[] = {1, 7, 8, 31, 32, 33, 100, 129, 257, 1000};
  int variant = 0;
  for (const Fmt& f : formats) {
    for (size_t k : Ks) {
      for (size_t n : Ns) {
        const bool bias = (variant++ % 2) == 0;
        const size_t extra = variant % 3 == 0 ? 3 : 0;  // non-dense weight rows sometimes
        Weights w = make_weights(f.f, n, k, f.block, bias, rng, Fill::Random, extra);
        for (size_t m : Ms) {
          Acts a = make_acts(m, k, rng, Fill::Random, variant % 5 == 0 ? 5 : 0);
          check_gemm(w, a, isas, nullptr, "", -INFINITY, INFINITY, variant % 4 == 0 ? 2 : 0);
        }
      }
    }
  }
  // The same odd shapes on a 2-thread pool.
  for (const Fmt& f : formats) {
    for (size_t n : {1, 97}) {
      Weights w = make_weights(f.f, n, 100, f.block, true, rng);
      for (size_t m : {1, 7}) check_gemm(w, make_acts(m, 100, rng), isas, pool2, " threads=2");
    }
  }
  // Extreme values: every product at the int8 / int4 limits (saturation would show).
  for (const Fmt& f : formats) {
    Weights w = make_weights(f.f, 33, 1024 + 8, f.block, true, rng, Fill::Extreme);
    Acts a = make_acts(5, 1024 + 8, rng, Fill::Extreme);
    check_gemm(w, a, isas, nullptr, " extreme");
  }
  // K over the int32 chunk of the per-channel formats (32768).
  for (WeightFormat f : {WeightFormat::QC4W, WeightFormat::QC8W}) {
    Weights w = make_weights(f, 19, 66000, 0, true, rng);
    Acts a = make_acts(2, 66000, rng);
    check_gemm(w, a, isas, pool2, " long-K");
    Weights we = make_weights(f, 3, 40001, 0, false, rng, Fill::Extreme);
    Acts ae = make_acts(3, 40001, rng, Fill::Extreme);
    check_gemm(we, ae, isas, nullptr, " long-K extreme");
    // sum (a - zp) * w = 70001 * 255 * 127 > 2^31 for qc8w: needs the int32 chunks.
    Weights wm = make_weights(f, 2, 70001, 0, false, rng, Fill::Max);
    Acts am = make_acts(2, 70001, rng, Fill::Max);
    check_gemm(wm, am, isas, nullptr, " long-K max");
  }
  // qb4w with a large block and with K a multiple of the block.
  {
    Weights w = make_weights(WeightFormat::QB4W, 40, 2048, 256, true, rng);
    Acts a = make_acts(4, 2048, rng);
    check_gemm(w, a, isas, pool2, " threads=2");
  }
  // Clamping.
  {
    Weights w = make_weights(WeightFormat::QB4W, 50, 300, 32, true, rng);
    Acts a = make_acts(3, 300, rng);
    check_gemm(w, a, isas, nullptr, " clamp", -0.25f, 0.5f);
  }
  // Threads: several row chunks and tiles; results must not depend on the pool.
  for (const Fmt& f : formats) {
    const size_t m = 70, n = 97, k = 8192 + 40;
    Weights w = make_weights(f.f, n, k, f.block, true, rng);
    Acts a = make_acts(m, k, rng);
    check_gemm(w, a, isas, pool2, " threads=2");
    PackedWeights p1 = pack_qd8_weights(w.source(), nullptr);
    PackedWeights p2 = pack_qd8_weights(w.source(), pool2);
    check(p1.bytes() == p2.bytes() && std::memcmp(p1.data.get(), p2.data.get(), p1.bytes()) == 0,
          fmt("%s parallel pack identical", weight_format_name(f.f)));
    for (Isa isa : isas) {
      std::vector<float> o1(m * n), o2(m * n);
      GemmOptions opt;
      opt.isa = isa;
      qd8_gemm(p1, m, a.rows(), o1.data(), n, nullptr, opt);
      qd8_gemm(p1, m, a.rows(), o2.data(), n, pool2, opt);
      check(o1 == o2, fmt("%s %s threads=1 and threads=2 bit-identical", isa_name(isa), weight_format_name(f.f)));
      // GEMV rows give the same result alone as inside a GEMM batch.
      std::vector<float> o3(n);
      QD8Rows row = a.rows();
      row.data += 5 * a.stride;
      row.params += 5;
      qd8_gemm(p1, 1, row, o3.data(), n, pool2, opt);
      bool close = true;
      for (size_t j = 0; j < n; ++j) close = close && std::fabs(o3[j] - o1[5 * n + j]) <= 1e-5f * (1 + std::fabs(o3[j]));
      check(close, fmt("%s %s GEMV row == GEMM row", isa_name(isa), weight_format_name(f.f)));
    }
  }
  // The f32 convenience path equals quantize + gemm.
  {
    Weights w = make_weights(WeightFormat::QB4W, 21, 200, 32, true, rng);
    Acts a = make_acts(3, 200, rng);
    PackedWeights p = pack_qd8_weights(w.source());
    for (Isa isa : isas) {
      GemmOptions opt;
      opt.isa = isa;
      std::vector<float> o1(3 * 21), o2(3 * 21);
      qd8_gemm(p, 3, a.rows(), o1.data(), 21, nullptr, opt);
      qd8_linear_f32(p, 3, a.x.data(), 200, o2.data(), 21, nullptr, opt);
      check(o1 == o2, fmt("%s qd8_linear_f32 == quantize + qd8_gemm", isa_name(isa)));
    }
  }
  // Invalid sources are rejected with etn::Error, not a crash.
  {
    auto rejects = [](WeightSource s) {
      try {
        pack_qd8_weights(s);
        return false;
      } catch (const etn::Error& e) {
        return e.code() == etn::ErrorCode::InvalidArgument;
      }
    };
    Weights w = make_weights(WeightFormat::QB4W, 4, 64, 32, false, rng);
    WeightSource s = w.source();
    WeightSource bad_block = s;
    bad_block.block_size = 48;
    WeightSource no_scales = s;
    no_scales.scales_bf16 = nullptr;
    WeightSource empty = s;
    empty.k = 0;
    WeightSource short_stride = s;
    short_stride.row_stride = 10;
    check(rejects(bad_block) && rejects(no_scales) && rejects(empty) && rejects(short_stride),
          "pack rejects invalid sources");
  }
}

// ---------------------------------------------------------------------------------
// Benchmark: GEMV (M = 1), N = K = 2048. "hot" reuses one packed matrix (it stays in
// L2/L3), "cold" cycles through copies totalling >= 256 MiB so every call streams
// from DRAM, like decoding a real model. GB/s counts the packed bytes (weights,
// scales, sums, bias) read per call.
// ---------------------------------------------------------------------------------
double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Plain read bandwidth: a 4-way unrolled 64-bit sum over `buf` (AVX2 when available;
// best of `reps`).
struct ReadBench {
  std::vector<uint64_t> buf;
  explicit ReadBench(size_t bytes) : buf(bytes / 8, 1) {}
#if defined(__x86_64__)
  __attribute__((target("avx2"))) static void sum_range_avx2(void* ctx, size_t i0, size_t cnt) {
    const uint64_t* p = static_cast<ReadBench*>(ctx)->buf.data() + i0;
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t i = 0; i + 16 <= cnt; i += 16) {
      s0 = _mm256_add_epi64(s0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
      s1 = _mm256_add_epi64(s1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 4)));
      s2 = _mm256_add_epi64(s2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 8)));
      s3 = _mm256_add_epi64(s3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 12)));
    }
    const __m256i t = _mm256_add_epi64(_mm256_add_epi64(s0, s1), _mm256_add_epi64(s2, s3));
    static volatile long long sink;
    sink = _mm256_extract_epi64(t, 0) + _mm256_extract_epi64(t, 3);
    (void)sink;
  }
#endif
  static void sum_range(void* ctx, size_t i0, size_t cnt) {
    const uint64_t* p = static_cast<ReadBench*>(ctx)->buf.data() + i0;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i + 4 <= cnt; i += 4) {
      s0 += p[i];
      s1 += p[i + 1];
      s2 += p[i + 2];
      s3 += p[i + 3];
    }
    static volatile uint64_t sink;
    sink = s0 + s1 + s2 + s3;
    (void)sink;
  }
  double gbps(pthreadpool_t pool, int reps) {
    const size_t threads = pool ? pthreadpool_get_threads_count(pool) : 1;
    double best = 1e9;
    for (int rep = 0; rep < reps; ++rep) {
      const double t0 = now_s();
      pthreadpool_task_1d_tile_1d_t fn = sum_range;
#if defined(__x86_64__)
      if (isa_supported(Isa::Avx2)) fn = sum_range_avx2;
#endif
      pthreadpool_parallelize_1d_tile_1d(pool, fn, this, buf.size(), buf.size() / (threads * 8), 0);
      best = std::min(best, now_s() - t0);
    }
    return buf.size() * 8 / best / 1e9;
  }
};

void bench(const char* only_format, const char* only_isa) {
  const size_t n = 2048, k = 2048;
  Rng rng(99);
  pthreadpool_t pool2 = pthreadpool_create(2);
  std::printf("cpu: %s\n", cpu_features_string().c_str());
  std::printf("GEMV N=%zu K=%zu: GB/s of packed weights streamed, best batch (median batch);\n"
              "hot = one matrix (cache resident), cold = cycling through 256 MiB of copies (DRAM);\n"
              "read = plain summing loop (AVX2 if available) over 256 MiB measured just before (same threads), and the\n"
              "cold/read ratio (other processes on this VM move both numbers together)\n",
              n, k);
  ReadBench reader(size_t{256} << 20);
  struct Fmt {
    WeightFormat f;
    size_t block;
  };
  for (const Fmt f : {Fmt{WeightFormat::QB4W, 32}, Fmt{WeightFormat::QC4W, 0}, Fmt{WeightFormat::QC8W, 0}}) {
    if (only_format && std::strcmp(only_format, weight_format_name(f.f)) != 0) continue;
    Weights w = make_weights(f.f, n, k, f.block, true, rng);
    const WeightSource src = w.source();
    std::vector<PackedWeights> copies;
    double t_pack = 1e9;
    for (int rep = 0; rep < 5; ++rep) {  // best of 5 (includes first-touch page faults)
      const double t_pack0 = now_s();
      PackedWeights p = pack_qd8_weights(src, nullptr);
      t_pack = std::min(t_pack, now_s() - t_pack0);
    }
    copies.push_back(pack_qd8_weights(src, nullptr));
    const size_t bytes = copies[0].bytes();
    const size_t ncopies = std::max<size_t>(2, (size_t{256} << 20) / bytes + 1);
    while (copies.size() < ncopies) copies.push_back(pack_qd8_weights(src, pool2));
    Acts a = make_acts(1, k, rng);
    std::vector<float> out(n);
    std::printf("%s: packed %.2f MB (%.3f bytes/weight), pack %.1f ms single-threaded (%.0f MB/s of source)\n",
                weight_format_name(f.f), bytes / 1e6, static_cast<double>(bytes) / (n * k), t_pack * 1e3,
                (w.data.size() + w.scales_bf16.size() * 2 + w.scales_f32.size() * 4) / t_pack / 1e6);
    for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
      if (!isa_supported(isa)) continue;
      if (only_isa && std::strcmp(only_isa, isa_name(isa)) != 0) continue;
      GemmOptions opt;
      opt.isa = isa;
      for (int threads : {1, 2}) {
        pthreadpool_t pool = threads == 1 ? nullptr : pool2;
        auto run = [&](const PackedWeights& p) { qd8_gemm(p, 1, a.rows(), out.data(), n, pool, opt); };
        const double budget = isa == Isa::Scalar ? 0.3 : 1.0;
        // Returns {best, median} seconds per call over batches of `batch` calls.
        auto measure = [&](bool cold) {
          const size_t batch = cold ? copies.size() : 50;
          std::vector<double> per_call;
          const double start = now_s();
          size_t i = 0;
          do {
            const double t0 = now_s();
            for (size_t c = 0; c < batch; ++c) run(cold ? copies[c] : copies[0]);
            per_call.push_back((now_s() - t0) / batch);
          } while (now_s() - start < budget || ++i < 3);
          std::sort(per_call.begin(), per_call.end());
          return std::make_pair(per_call[0], per_call[per_call.size() / 2]);
        };
        for (int i = 0; i < 20; ++i) run(copies[0]);
        const auto hot = measure(false);
        const double read = reader.gbps(pool, 5);
        const auto cold = measure(true);
        const double cold_gbps = bytes / cold.first / 1e9;
        std::printf("  %-4s %-6s threads=%d  hot %6.1f us %6.1f (%5.1f) GB/s | cold %6.1f us %5.1f (%5.1f) GB/s"
                    " %5.1f Gweights/s | read %5.1f GB/s, cold/read %.2f\n",
                    weight_format_name(f.f), isa_name(isa), threads, hot.first * 1e6, bytes / hot.first / 1e9,
                    bytes / hot.second / 1e9, cold.first * 1e6, cold_gbps, bytes / cold.second / 1e9,
                    n * k / cold.first / 1e9, read, cold_gbps / read);
      }
      // Prefill-sized GEMM: M = 128 rows, same weights (cache resident), int8 GOP/s.
      if (isa != Isa::Scalar) {
        const size_t m = 128;
        Acts am = make_acts(m, k, rng);
        std::vector<float> outm(m * n);
        for (int threads : {1, 2}) {
          pthreadpool_t pool = threads == 1 ? nullptr : pool2;
          double best = 1e9;
          const double start = now_s();
          int reps = 0;
          while (now_s() - start < 0.5 || reps < 3) {
            const double t0 = now_s();
            qd8_gemm(copies[0], m, am.rows(), outm.data(), n, pool, opt);
            best = std::min(best, now_s() - t0);
            ++reps;
          }
          std::printf("  %-4s %-6s threads=%d  GEMM M=%zu: %7.1f us, %6.1f GOP/s\n", weight_format_name(f.f),
                      isa_name(isa), threads, m, best * 1e6, 2.0 * m * n * k / best / 1e9);
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
      bench(i + 1 < argc ? argv[i + 1] : nullptr, i + 2 < argc ? argv[i + 2] : nullptr);
      return 0;
    }
  }
  const std::vector<Isa> isas = isas_under_test();
  std::printf("cpu: %s\n", cpu_features_string().c_str());
  std::printf("best: %s, selected: %s\n", isa_name(best_isa()), isa_name(selected_isa()));
  std::string list;
  for (Isa isa : isas) list += std::string(list.empty() ? "" : " ") + isa_name(isa);
  std::printf("testing isa: %s\n", list.c_str());
  pthreadpool_t pool2 = pthreadpool_create(2);
  try {
    test_isa_selection();
    test_quantize(isas);
    test_gemm(isas, pool2);
  } catch (const std::exception& e) {
    check(false, std::string("exception: ") + e.what());
  }
  pthreadpool_destroy(pool2);
  std::printf("worst |error| / sum|terms|: %.3g (tolerance 2e-05)\n", g_worst_ratio);
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
