// KV-cache writes used by exported LLMs (namespace `llama`):
//   update_cache.out(Tensor value, Tensor(a!) cache, SymInt start_pos, *, Tensor(b!) out)
//   update_cache_with_indices.out(Tensor value, Tensor(a!) cache, SymInt start_pos,
//                                 Tensor indices, *, Tensor(b!) out)
// Both tensors use the [B, S, H, D] layout (sequence at dim 1). `value` holds S new
// tokens; they are copied into `cache` [B, max, H, D] either at rows
// start_pos..start_pos+S-1, or (with indices) token (b, s) to row indices[b, s] (the
// ring-buffer cache of sliding-window layers). The op mutates `cache` in place; its
// `out` is a placeholder nobody reads, so it is left untouched.
//
// Everything is validated before the first byte is written, so a failing call leaves
// the cache as it was.
#include <cstdint>
#include <cstring>

#include "../kernel_util.h"
#include "kv_cache_util.h"

namespace etn {
namespace {

void checkIndices(const KernelArgs& args, const Tensor& value, const Tensor& cache,
                  const Tensor& indices) {
  if (indices.dtype() != ScalarType::Long)
    args.fail(ErrorCode::InvalidArgument, "indices must be int64, got ", indices.describe());
  if (indices.dim() != 2 || indices.size(0) != value.size(0) || indices.size(1) != value.size(1))
    args.fail(ErrorCode::InvalidArgument, "indices ", indices.describe(), " must be [",
              value.size(0), ", ", value.size(1), "] (batch and sequence of value ",
              value.describe(), ")");
  requireContiguous(args, indices, "indices");
  if (indices.numel() > 0 && indices.data() == nullptr)
    args.fail(ErrorCode::Internal, "indices ", indices.describe(), " has no data buffer");
  const int64_t maxLen = cache.size(1);
  for (int64_t k = 0; k < indices.numel(); ++k) {
    int64_t pos;
    std::memcpy(&pos, static_cast<const char*>(indices.data()) + k * 8, 8);
    if (pos < 0 || pos >= maxLen)
      args.fail(ErrorCode::InvalidArgument, "index ", pos, " (indices[", k / indices.size(1),
                ", ", k % indices.size(1), "]) is out of range [0, ", maxLen,
                ") of the cache ", cache.describe());
  }
}

void update_cache_out(KernelArgs& args) {
  args.expectCount(5);
  const Tensor& value = args.tensor(0);
  Tensor& cache = args.tensor(1);
  const int64_t startPos = args.toInt(2);
  (void)args.tensor(3);  // placeholder output
  llm::checkCacheWrite(args, value, cache, "value", "cache");
  llm::checkStartPos(args, value.size(1), cache, startPos, "cache");
  llm::copyIntoCache(value, cache, startPos);
}

void update_cache_with_indices_out(KernelArgs& args) {
  args.expectCount(6);
  const Tensor& value = args.tensor(0);
  Tensor& cache = args.tensor(1);
  // start_pos is the absolute position of the first token; with a ring buffer it grows
  // past the cache length, so only the indices are checked against the cache.
  (void)args.toInt(2);
  const Tensor& indices = args.tensor(3);
  (void)args.tensor(4);  // placeholder output
  llm::checkCacheWrite(args, value, cache, "value", "cache");
  checkIndices(args, value, cache, indices);

  const int64_t B = value.size(0), S = value.size(1);
  const size_t tokenBytes =
      static_cast<size_t>(value.size(2) * value.size(3)) * value.elementSize();
  if (tokenBytes == 0 || B == 0 || S == 0) return;
  const char* src = static_cast<const char*>(value.data());
  char* dst = static_cast<char*>(cache.data());
  const char* idx = static_cast<const char*>(indices.data());
  const int64_t maxLen = cache.size(1);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t s = 0; s < S; ++s) {
      int64_t pos;
      std::memcpy(&pos, idx + (b * S + s) * 8, 8);
      const char* from = src + static_cast<size_t>(b * S + s) * tokenBytes;
      char* to = dst + static_cast<size_t>(b * maxLen + pos) * tokenBytes;
      // Two tokens of one call may name the same row; the later one wins, as a
      // sequential copy would. memmove in case value aliases the cache.
      std::memmove(to, from, tokenBytes);
    }
  }
}

}  // namespace

ETN_REGISTER_KERNEL("llama::update_cache.out", update_cache_out);
ETN_REGISTER_KERNEL("llama::update_cache_with_indices.out", update_cache_with_indices_out);

}  // namespace etn
