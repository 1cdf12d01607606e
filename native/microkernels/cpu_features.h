// CPU feature detection and microkernel ISA selection.
//
// The addon is compiled without -march flags so one binary runs on every x86-64
// CPU; SIMD kernels carry per-function target attributes and are only called
// after the features below say the CPU (and the OS, via XCR0) supports them.
//
// ISA levels, best first:
//   avx512  AVX-512 F + BW + VL + VNNI (vpdpbusd on zmm)     e.g. Zen 4/5, Ice Lake+
//   avx2    AVX2 + FMA (vpmaddubsw / vpmaddwd)               any x86-64 since ~2013
//   scalar  portable C++                                     everything
//
// EXECUTORCH_NODE_ISA=avx512|avx2|scalar (or auto) overrides the choice. Asking for
// an ISA this CPU lacks prints one warning to stderr and falls back to the best
// level below it: it never executes an unsupported instruction.
#pragma once
#include <string>

namespace etn::mk {

enum class Isa : int {
  Auto = -1,  // = selected_isa()
  Scalar = 0,
  Avx2 = 1,
  Avx512 = 2,
};

struct CpuFeatures {
  bool x86 = false;
  // Instruction-set bits from CPUID.
  bool sse41 = false, avx = false, avx2 = false, fma = false, f16c = false, bmi2 = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512vnni = false, avx512bf16 = false, avxvnni = false;
  // Register state the OS saves on context switch (XGETBV XCR0).
  bool os_ymm = false, os_zmm = false;
};

// Detected once, cached.
const CpuFeatures& cpu_features();
// "avx2 fma avx512f ... (os: ymm zmm)"; for logs and test output.
std::string cpu_features_string();

const char* isa_name(Isa isa);
// Accepts "avx512", "avx2", "scalar", "auto" (case-insensitive); false otherwise.
bool parse_isa(const char* text, Isa* out);
bool isa_supported(Isa isa);
// The best level this CPU supports.
Isa best_isa();
// The level chosen for this process: best_isa(), or EXECUTORCH_NODE_ISA if set
// (falling back, with a warning on stderr, when the CPU lacks it). Read once.
Isa selected_isa();
// Auto -> selected_isa(); an unsupported level -> the best supported level below it
// (silently; selected_isa() is the place that warns).
Isa resolve_isa(Isa requested);

}  // namespace etn::mk
