// Checks and copies shared by the KV-cache ops (update_cache*, sdpa_with_kv_cache).
// Caches and new values use the [B, S, H, D] layout, contiguous.
#pragma once
#include <cstdint>
#include <cstring>

#include "../kernel_util.h"

namespace etn {
namespace llm {

inline void requireData(const KernelArgs& args, const Tensor& t, const char* what) {
  if (t.numel() > 0 && t.data() == nullptr)
    args.fail(ErrorCode::Internal, what, " ", t.describe(), " has no data buffer");
}

// `value` [B, S, H, D] may be written into `cache` [B, max, H, D].
inline void checkCacheWrite(const KernelArgs& args, const Tensor& value, const Tensor& cache,
                            const char* valueName, const char* cacheName) {
  if (value.dim() != 4)
    args.fail(ErrorCode::InvalidArgument, valueName, " must be 4-D [B, S, H, D], got ",
              value.describe());
  if (cache.dim() != 4)
    args.fail(ErrorCode::InvalidArgument, cacheName, " must be 4-D [B, max_seq, H, D], got ",
              cache.describe());
  if (value.dtype() != cache.dtype())
    args.fail(ErrorCode::InvalidArgument, valueName, " dtype ", scalarTypeName(value.dtype()),
              " differs from ", cacheName, " dtype ", scalarTypeName(cache.dtype()));
  if (value.size(0) != cache.size(0) || value.size(2) != cache.size(2) ||
      value.size(3) != cache.size(3))
    args.fail(ErrorCode::InvalidArgument, valueName, " ", value.describe(),
              " does not match ", cacheName, " ", cache.describe(),
              " in batch, heads or head dim");
  requireContiguous(args, value, valueName);
  requireContiguous(args, cache, cacheName);
  requireData(args, value, valueName);
  requireData(args, cache, cacheName);
}

// Rows start_pos..start_pos+seqLen-1 must exist in the cache.
inline void checkStartPos(const KernelArgs& args, int64_t seqLen, const Tensor& cache,
                          int64_t startPos, const char* cacheName) {
  const int64_t maxLen = cache.size(1);
  if (startPos < 0 || startPos >= maxLen)
    args.fail(ErrorCode::InvalidArgument, "start_pos ", startPos, " is out of range [0, ",
              maxLen, ") of ", cacheName, " ", cache.describe());
  if (seqLen > maxLen - startPos)
    args.fail(ErrorCode::InvalidArgument, "start_pos ", startPos, " + ", seqLen,
              " new tokens exceeds the ", cacheName, " length ", maxLen);
}

// cache[b, start_pos : start_pos + S] = value[b] for every batch row (after the checks).
inline void copyIntoCache(const Tensor& value, Tensor& cache, int64_t startPos) {
  const int64_t B = value.size(0), S = value.size(1);
  const size_t tokenBytes =
      static_cast<size_t>(value.size(2) * value.size(3)) * value.elementSize();
  if (B == 0 || S == 0 || tokenBytes == 0) return;
  const char* src = static_cast<const char*>(value.data());
  char* dst = static_cast<char*>(cache.data());
  const int64_t maxLen = cache.size(1);
  for (int64_t b = 0; b < B; ++b)
    std::memmove(dst + static_cast<size_t>(b * maxLen + startPos) * tokenBytes,
                 src + static_cast<size_t>(b * S) * tokenBytes,
                 static_cast<size_t>(S) * tokenBytes);
}

}  // namespace llm
}  // namespace etn
