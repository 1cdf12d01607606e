#include "packed_tiles.h"

#include <algorithm>
#include <limits>

#include "../runtime/error.h"
#include "../runtime/large_alloc.h"

namespace etn::mk {

std::unique_ptr<uint8_t, PackedWeights::Free> allocate_packed_tiles(size_t ntiles, size_t tile_bytes, const char* what) {
  ETN_CHECK(ntiles == 0 || tile_bytes <= std::numeric_limits<size_t>::max() / ntiles, ErrorCode::OutOfMemory, what,
            ": packed size overflows");
  const size_t bytes = ntiles * tile_bytes;
  void* mem = largeAlloc(bytes);
  if (mem == nullptr) fail(ErrorCode::OutOfMemory, what, ": cannot allocate ", bytes, " bytes");
  return std::unique_ptr<uint8_t, PackedWeights::Free>(static_cast<uint8_t*>(mem), PackedWeights::Free{bytes});
}

size_t thread_count(pthreadpool_t pool) { return pool ? std::max<size_t>(1, pthreadpool_get_threads_count(pool)) : 1; }

void pack_tiles(pthreadpool_t pool, pthreadpool_task_1d_tile_1d_t task, void* job, size_t ntiles) {
  const size_t threads = thread_count(pool);
  if (threads <= 1 || ntiles < 2) {
    task(job, 0, ntiles);
    return;
  }
  // Several tasks per thread so uneven tiles even out.
  const size_t per_task = std::max<size_t>(1, ntiles / (threads * 8));
  pthreadpool_parallelize_1d_tile_1d(pool, task, job, ntiles, per_task, 0);
}

}  // namespace etn::mk
