// The inner loops of fused attention (custom_sdpa.cpp), compiled for AVX-512, AVX2
// and baseline x86-64 and picked at load time (GCC target_clones), since the addon
// itself is built for the baseline ISA.
#pragma once
#include <cstdint>

namespace etn {
namespace attention {

constexpr int64_t kKeyLanes = 16;

// out[r * ldOut + c] = q[r * D ..] . k[c * ldk ..] for r < rows, c < keys.
// scratch: kKeyLanes * D floats.
void scores(const float* q, int64_t rows, int64_t D, const float* k, int64_t ldk, int64_t keys, float* out,
            int64_t ldOut, float* scratch);

// acc[r * D ..] += sum_c w[r * ldw + c] * v[c * ldv ..] for r < rows, c < keys (zero weights skipped).
void accumulate(float* acc, int64_t rows, int64_t D, const float* w, int64_t ldw, const float* v, int64_t ldv,
                int64_t keys);

}  // namespace attention
}  // namespace etn
