// The storage and the packing loop every packed weight format shares: tiles of a
// fixed byte size in one large mapping (returned to the OS when the weights go),
// filled by a per-tile task, in parallel over the program's pool when it has threads.
#pragma once
#include <pthreadpool.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "qd8_gemm.h"  // PackedWeights::Free

namespace etn::mk {

// ntiles * tile_bytes bytes; `what` names the weights in errors (overflow, no memory).
std::unique_ptr<uint8_t, PackedWeights::Free> allocate_packed_tiles(size_t ntiles, size_t tile_bytes, const char* what);

// Runs task(job, first_tile, count) over all tiles, on `pool` when it has threads.
void pack_tiles(pthreadpool_t pool, pthreadpool_task_1d_tile_1d_t task, void* job, size_t ntiles);

// Threads of `pool` (1 without a pool).
size_t thread_count(pthreadpool_t pool);

}  // namespace etn::mk
