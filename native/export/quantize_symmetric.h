// Symmetric, scale-only weight quantization with torchao's HQQ choice of scales, the
// native twin of lib/export/passes/quantize-weights.ts `quantizeSymmetric`. The codes
// and scales must equal the JS reference bit for bit (exported files are compared by
// sha256), so every rounding step of the JS is reproduced here; see the .cpp.
#pragma once
#include <pthreadpool.h>

#include <cstddef>
#include <cstdint>

namespace etn::exporter {

struct SymmetricQuantizationShape {
  size_t rows = 0;
  size_t cols = 0;
  size_t groupSize = 0;  // columns per scale; cols for one scale per row
  int qmin = 0;
  int qmax = 0;
};

// Throws etn::Error(InvalidArgument) when the shape or range is unusable.
void checkSymmetricQuantizationShape(const SymmetricQuantizationShape& s);

// w: [rows, cols] float32. Writes q [rows, cols] and scales [rows * cols / groupSize].
// Groups are independent within an HQQ iteration, so each iteration is spread over
// `pool` (null: the calling thread only); the iterations end together, on the
// tensor-wide convergence test, as in the reference.
void quantizeSymmetric(const float* w, const SymmetricQuantizationShape& s, int8_t* q, float* scales, pthreadpool_t pool);

}  // namespace etn::exporter
