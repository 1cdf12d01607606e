#include "cpu_features.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <strings.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define ETN_MK_X86 1
#else
#define ETN_MK_X86 0
#endif

namespace etn::mk {
namespace {

#if ETN_MK_X86
bool cpuid(unsigned leaf, unsigned subleaf, unsigned regs[4]) {
  return __get_cpuid_count(leaf, subleaf, &regs[0], &regs[1], &regs[2], &regs[3]) != 0;
}

unsigned long long read_xcr0() {
  unsigned eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}
#endif

CpuFeatures detect() {
  CpuFeatures f;
#if ETN_MK_X86
  f.x86 = true;
  unsigned r[4] = {0, 0, 0, 0};
  if (!cpuid(0, 0, r)) return f;
  const unsigned max_leaf = r[0];
  if (max_leaf < 1 || !cpuid(1, 0, r)) return f;
  const unsigned ecx1 = r[2];
  f.sse41 = (ecx1 >> 19) & 1;
  f.fma = (ecx1 >> 12) & 1;
  f.f16c = (ecx1 >> 29) & 1;
  const bool osxsave = (ecx1 >> 27) & 1;
  f.avx = (ecx1 >> 28) & 1;
  if (osxsave) {
    const unsigned long long xcr0 = read_xcr0();
    f.os_ymm = (xcr0 & 0x6) == 0x6;     // XMM + YMM state
    f.os_zmm = (xcr0 & 0xE6) == 0xE6;   // + opmask, ZMM_Hi256, Hi16_ZMM
  }
  if (max_leaf >= 7 && cpuid(7, 0, r)) {
    const unsigned ebx7 = r[1], ecx7 = r[2];
    const unsigned max_sub7 = r[0];
    f.avx2 = (ebx7 >> 5) & 1;
    f.bmi2 = (ebx7 >> 8) & 1;
    f.avx512f = (ebx7 >> 16) & 1;
    f.avx512dq = (ebx7 >> 17) & 1;
    f.avx512bw = (ebx7 >> 30) & 1;
    f.avx512vl = (ebx7 >> 31) & 1;
    f.avx512vnni = (ecx7 >> 11) & 1;
    if (max_sub7 >= 1 && cpuid(7, 1, r)) {
      f.avxvnni = (r[0] >> 4) & 1;
      f.avx512bf16 = (r[0] >> 5) & 1;
    }
  }
  // Without OS support the instructions fault: treat them as absent.
  if (!f.os_ymm) {
    f.avx = f.avx2 = f.fma = f.f16c = f.avxvnni = false;
  }
  if (!f.os_zmm) {
    f.avx512f = f.avx512bw = f.avx512vl = f.avx512dq = f.avx512vnni = f.avx512bf16 = false;
  }
#endif
  return f;
}

Isa select_from_env() {
  const Isa best = best_isa();
  const char* env = std::getenv("EXECUTORCH_NODE_ISA");
  if (env == nullptr || env[0] == '\0') return best;
  Isa wanted;
  if (!parse_isa(env, &wanted)) {
    std::fprintf(stderr,
                 "executorch-node: warning: EXECUTORCH_NODE_ISA=%s is not one of avx512, avx2, scalar, auto; "
                 "using %s\n",
                 env, isa_name(best));
    return best;
  }
  if (wanted == Isa::Auto) return best;
  if (!isa_supported(wanted)) {
    const Isa fallback = resolve_isa(wanted);
    std::fprintf(stderr,
                 "executorch-node: warning: EXECUTORCH_NODE_ISA=%s but this CPU/OS does not support it "
                 "(detected: %s); using %s\n",
                 env, cpu_features_string().c_str(), isa_name(fallback));
    return fallback;
  }
  return wanted;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

std::string cpu_features_string() {
  const CpuFeatures& f = cpu_features();
  if (!f.x86) return "not x86";
  std::string s;
  auto add = [&s](bool on, const char* name) {
    if (!on) return;
    if (!s.empty()) s += ' ';
    s += name;
  };
  add(f.sse41, "sse4.1");
  add(f.avx, "avx");
  add(f.avx2, "avx2");
  add(f.fma, "fma");
  add(f.f16c, "f16c");
  add(f.bmi2, "bmi2");
  add(f.avxvnni, "avx-vnni");
  add(f.avx512f, "avx512f");
  add(f.avx512bw, "avx512bw");
  add(f.avx512vl, "avx512vl");
  add(f.avx512dq, "avx512dq");
  add(f.avx512vnni, "avx512vnni");
  add(f.avx512bf16, "avx512bf16");
  if (s.empty()) s = "baseline";
  return s;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Auto: return "auto";
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "unknown";
}

bool parse_isa(const char* text, Isa* out) {
  if (text == nullptr) return false;
  static const struct {
    const char* name;
    Isa isa;
  } names[] = {{"avx512", Isa::Avx512}, {"avx2", Isa::Avx2}, {"scalar", Isa::Scalar}, {"auto", Isa::Auto}};
  for (const auto& n : names) {
    if (strcasecmp(text, n.name) == 0) {
      *out = n.isa;
      return true;
    }
  }
  return false;
}

bool isa_supported(Isa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case Isa::Auto:
    case Isa::Scalar: return true;
    case Isa::Avx2: return f.avx2 && f.fma;
    case Isa::Avx512: return f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni && isa_supported(Isa::Avx2);
  }
  return false;
}

Isa best_isa() {
  if (isa_supported(Isa::Avx512)) return Isa::Avx512;
  if (isa_supported(Isa::Avx2)) return Isa::Avx2;
  return Isa::Scalar;
}

Isa selected_isa() {
  static const Isa isa = select_from_env();
  return isa;
}

Isa resolve_isa(Isa requested) {
  if (requested == Isa::Auto) return selected_isa();
  int level = static_cast<int>(requested);
  while (level > 0 && !isa_supported(static_cast<Isa>(level))) --level;
  return static_cast<Isa>(level < 0 ? 0 : level);
}

}  // namespace etn::mk
