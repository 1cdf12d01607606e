#include "xnnpack_payload.h"

#include <cstring>

#include "../../runtime/error.h"
#include "../../runtime/little_endian.h"

namespace etn {

namespace {
constexpr size_t kHeaderMinSize = 30;

bool hasGraphIdentifier(const uint8_t* fbData, size_t size) {
  return size >= 8 && (std::memcmp(fbData + 4, "XN00", 4) == 0 || std::memcmp(fbData + 4, "XN01", 4) == 0);
}
}  // namespace

XnnpackPayload parseXnnpackPayload(ByteSpan payload) {
  XnnpackPayload out;
  if (payload.size >= kHeaderMinSize && std::memcmp(payload.data + 4, "XH00", 4) == 0) {
    const uint16_t headerLength = readLE<uint16_t>(payload.data + 8);
    const uint32_t fbOffset = readLE<uint32_t>(payload.data + 10);
    const uint32_t fbSize = readLE<uint32_t>(payload.data + 14);
    const uint32_t constOffset = readLE<uint32_t>(payload.data + 18);
    const uint64_t constSize = readLE<uint64_t>(payload.data + 22);
    if (headerLength < kHeaderMinSize)
      fail(ErrorCode::InvalidProgram, "XNNPACK payload header length ", headerLength, " is too small");
    if (fbOffset > payload.size || fbSize > payload.size - fbOffset)
      fail(ErrorCode::InvalidProgram, "XNNPACK payload flatbuffer (", fbSize, " bytes at ", fbOffset,
           ") exceeds the payload (", payload.size, " bytes)");
    if (constOffset > payload.size || constSize > payload.size - constOffset)
      fail(ErrorCode::InvalidProgram, "XNNPACK payload constant data exceeds the payload");
    if (constSize > 0 && constOffset < static_cast<uint64_t>(fbOffset) + fbSize)
      fail(ErrorCode::InvalidProgram, "XNNPACK payload constant data overlaps the flatbuffer");
    out.flatbuffer = ByteSpan{payload.data + fbOffset, fbSize};
    out.constantData = ByteSpan{payload.data + constOffset, static_cast<size_t>(constSize)};
  } else {
    // Payloads from before the header existed are the bare flatbuffer.
    out.flatbuffer = payload;
  }
  if (!hasGraphIdentifier(out.flatbuffer.data, out.flatbuffer.size))
    fail(ErrorCode::InvalidProgram, "XNNPACK payload has no XN00/XN01 graph");
  if (reinterpret_cast<uintptr_t>(out.flatbuffer.data) % 4 != 0)
    fail(ErrorCode::InvalidProgram, "XNNPACK graph is misaligned in the file");
  flatbuffers::Verifier verifier(out.flatbuffer.data, out.flatbuffer.size);
  if (!verifier.VerifyBuffer<fb_xnnpack::XNNGraph>(nullptr))
    fail(ErrorCode::InvalidProgram, "XNNPACK graph failed flatbuffer verification");
  out.graph = flatbuffers::GetRoot<fb_xnnpack::XNNGraph>(out.flatbuffer.data);
  return out;
}

DelegateSummary summarizeXnnpackPayload(ByteSpan payload) {
  const XnnpackPayload p = parseXnnpackPayload(payload);
  DelegateSummary s;
  s.format = std::string("XNNPACK ") + std::string(reinterpret_cast<const char*>(p.flatbuffer.data + 4), 4);
  if (p.graph->xnodes())
    for (const fb_xnnpack::XNode* node : *p.graph->xnodes()) {
      const char* name = fb_xnnpack::EnumNameXNodeUnion(node->xnode_union_type());
      std::string n = name && *name ? name : "Unknown";
      if (n.rfind("XNN", 0) == 0) n = n.substr(3);
      ++s.nodeCounts[n];
    }
  s.valueCount = p.graph->xvalues() ? p.graph->xvalues()->size() : 0;
  if (p.graph->constant_data())
    for (const fb_xnnpack::ConstantDataOffset* c : *p.graph->constant_data()) s.constantBytes += c->size();
  return s;
}

static const bool kInspectorRegistered =
    registerDelegateInspector("XnnpackBackend", &summarizeXnnpackPayload);

}  // namespace etn
