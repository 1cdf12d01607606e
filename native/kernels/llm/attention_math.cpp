#include "attention_math.h"

#define ETN_ATTENTION_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

namespace etn {
namespace attention {

ETN_ATTENTION_CLONES
void scores(const float* q, int64_t rows, int64_t D, const float* k, int64_t ldk, int64_t keys, float* out,
            int64_t ldOut, float* scratch) {
  // Sixteen keys at a time, transposed to [D][16] so that each step over d is one
  // 16-wide multiply-add per query row (no horizontal sums).
  for (int64_t c0 = 0; c0 < keys; c0 += kKeyLanes) {
    const int64_t n = keys - c0 < kKeyLanes ? keys - c0 : kKeyLanes;
    for (int64_t d = 0; d < D; ++d)
      for (int64_t j = 0; j < kKeyLanes; ++j) scratch[d * kKeyLanes + j] = j < n ? k[(c0 + j) * ldk + d] : 0.0f;
    for (int64_t r = 0; r < rows; ++r) {
      const float* qr = q + r * D;
      float acc[kKeyLanes] = {};
      for (int64_t d = 0; d < D; ++d) {
        const float qv = qr[d];
        const float* kt = scratch + d * kKeyLanes;
        for (int64_t j = 0; j < kKeyLanes; ++j) acc[j] += qv * kt[j];
      }
      for (int64_t j = 0; j < n; ++j) out[r * ldOut + c0 + j] = acc[j];
    }
  }
}

ETN_ATTENTION_CLONES
void accumulate(float* acc, int64_t rows, int64_t D, const float* w, int64_t ldw, const float* v, int64_t ldv,
                int64_t keys) {
  for (int64_t c = 0; c < keys; ++c) {
    const float* vr = v + c * ldv;
    for (int64_t r = 0; r < rows; ++r) {
      const float weight = w[r * ldw + c];
      if (weight == 0.0f) continue;
      float* a = acc + r * D;
      for (int64_t d = 0; d < D; ++d) a[d] += weight * vr[d];
    }
  }
}

}  // namespace attention
}  // namespace etn
