// The export's worker threads: one pthreadpool for the whole process, created on
// first use and sized to the machine. Export work (weight quantization) is queued
// on libuv's threads and fans out here, so it never competes with the runtime's
// per-program pools for ownership.
#pragma once
#include <pthreadpool.h>

namespace etn::exporter {

// The shared pool; null on a one-core machine (pthreadpool then runs the work on the
// calling thread). pthreadpool serialises concurrent parallelize calls on one pool,
// so two quantizations started at once take turns instead of oversubscribing.
pthreadpool_t exportThreadPool();

}  // namespace etn::exporter
