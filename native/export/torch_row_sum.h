// A float32 sum of a contiguous row in the order PyTorch's CPU `sum` adds it (AVX2
// build, 8-lane vectors): the twin of lib/export/passes/torch-sum.ts, which describes
// the order. torchao's HQQ scales come from two such sums; adding in any other order
// changes the last bit of some scales, and so the exported bytes.
#pragma once
#include <cstddef>

namespace etn::exporter {

float torchRowSum(const float* x, size_t n);

}  // namespace etn::exporter
