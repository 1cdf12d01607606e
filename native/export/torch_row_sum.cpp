// See torch_row_sum.h and lib/export/passes/torch-sum.ts for the order. Every addition
// is a float32 addition (built without -ffast-math, nothing is reassociated).
#include "torch_row_sum.h"

#include <array>
#include <cmath>

namespace etn::exporter {

namespace {

constexpr size_t kLanes = 8;
constexpr size_t kIlp = 4;
constexpr size_t kLevels = 4;
constexpr size_t kWidth = kLanes * kIlp;  // values per group of vectors

using Partial = std::array<float, kWidth>;

size_t ceilLog2(size_t x) {
  size_t p = 0;
  while ((size_t{1} << p) < x) ++p;
  return p;
}

}  // namespace

float torchRowSum(const float* x, size_t n) {
  const size_t vectors = n / kLanes;
  const size_t groups = vectors / kIlp;
  std::array<Partial, kLevels> acc{};
  const size_t levelPower = std::max<size_t>(4, ceilLog2(groups) / kLevels);
  const size_t levelStep = size_t{1} << levelPower;
  const size_t levelMask = levelStep - 1;
  size_t g = 0;
  while (g + levelStep <= groups) {
    for (size_t s = 0; s < levelStep; ++s, ++g) {
      const float* v = x + g * kWidth;
      for (size_t j = 0; j < kWidth; ++j) acc[0][j] += v[j];
    }
    for (size_t l = 1; l < kLevels; ++l) {
      for (size_t j = 0; j < kWidth; ++j) acc[l][j] += acc[l - 1][j];
      acc[l - 1].fill(0.0f);
      if ((g & (levelMask << (l * levelPower))) != 0) break;
    }
  }
  for (; g < groups; ++g) {
    const float* v = x + g * kWidth;
    for (size_t j = 0; j < kWidth; ++j) acc[0][j] += v[j];
  }
  for (size_t l = 1; l < kLevels; ++l)
    for (size_t j = 0; j < kWidth; ++j) acc[0][j] += acc[l][j];
  Partial& partial = acc[0];
  // Vectors past the last whole group join the first partial sum.
  for (size_t v = groups * kIlp; v < vectors; ++v)
    for (size_t lane = 0; lane < kLanes; ++lane) partial[lane] += x[v * kLanes + lane];
  for (size_t k = 1; k < kIlp; ++k)
    for (size_t lane = 0; lane < kLanes; ++lane) partial[lane] += partial[k * kLanes + lane];
  float sum = 0.0f;
  for (size_t i = vectors * kLanes; i < n; ++i) sum += x[i];
  for (size_t lane = 0; lane < kLanes; ++lane) sum += partial[lane];
  return sum;
}

}  // namespace etn::exporter
