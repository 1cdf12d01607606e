// The XNNPACK delegate payload: an XH00 header, the XNNGraph flatbuffer
// (identifier XN00 or XN01) and optional trailing constant data.
#pragma once
#include <cstdint>

#include "../../runtime/backend.h"
#include "../../runtime/data_buffer.h"
#include "xnnpack_generated.h"

namespace etn {

struct XnnpackPayload {
  const fb_xnnpack::XNNGraph* graph = nullptr;
  ByteSpan flatbuffer;
  ByteSpan constantData;  // empty in current exports (weights live in named data)
};

// Validates header ranges and verifies the flatbuffer; throws InvalidProgram.
XnnpackPayload parseXnnpackPayload(ByteSpan payload);

// Node counts by type name, for inspection.
DelegateSummary summarizeXnnpackPayload(ByteSpan payload);

}  // namespace etn
