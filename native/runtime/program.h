// A loaded .pte: the verified flatbuffer over a mapped file, its extended
// header and segments, constants, named data and attached .ptd files. Methods
// are built from it on demand (see method.h); the Program outlives them.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "data_buffer.h"
#include "program_generated.h"
#include "ptd_file.h"

namespace etn {

namespace fb = executorch_flatbuffer;

struct ExtendedHeader {
  bool present = false;
  uint32_t length = 0;
  uint64_t programSize = 0;
  uint64_t segmentBaseOffset = 0;
  uint64_t segmentDataSize = 0;  // 0 in headers of length 24 (before ExecuTorch 1.0)
};

class Program {
 public:
  static std::shared_ptr<Program> load(std::shared_ptr<DataBuffer> pte,
                                       std::vector<std::shared_ptr<PtdFile>> dataFiles);

  const fb::Program* root() const { return root_; }
  const std::string& name() const { return buffer_->name(); }
  const ExtendedHeader& header() const { return header_; }
  size_t fileSize() const { return buffer_->size(); }

  std::vector<std::string> methodNames() const;
  // nullptr when absent.
  const fb::ExecutionPlan* plan(const std::string& method) const;

  // Segment bytes (bounds checked at load).
  size_t segmentCount() const { return segments_.size(); }
  const ByteSpan& segment(size_t index) const;
  uint64_t segmentFileOffset(size_t index) const;

  // Constant tensor data for Tensor.data_buffer_idx (legacy constant_buffer or
  // constant_segment); throws InvalidProgram when idx or the size is out of range.
  ByteSpan constantData(uint32_t bufferIndex, size_t nbytes, const std::string& what) const;
  // Initial state of a mutable tensor (mutable_data_segments[segmentsIdx]).
  ByteSpan mutableData(uint64_t segmentsIdx, uint32_t bufferIndex, size_t nbytes,
                       const std::string& what) const;
  // A delegate's processed payload, inline or in a segment.
  ByteSpan delegatePayload(const fb::BackendDelegateDataReference* ref, const std::string& what) const;
  // Named data: the program's own entries first, then attached .ptd files.
  bool findNamedData(const std::string& key, NamedBlob* out) const;
  const std::map<std::string, size_t>& namedDataSegments() const { return namedData_; }
  const std::vector<std::shared_ptr<PtdFile>>& dataFiles() const { return dataFiles_; }
  // See DataBuffer::releasePages: for bytes of this program or of its .ptd files.
  void releasePages(const void* p, size_t n) const;

 private:
  void parseHeader();
  void collectSegments();
  void collectNamedData();

  std::shared_ptr<DataBuffer> buffer_;
  std::vector<std::shared_ptr<PtdFile>> dataFiles_;
  const fb::Program* root_ = nullptr;
  ExtendedHeader header_;
  std::vector<ByteSpan> segments_;
  std::vector<uint64_t> segmentOffsets_;
  std::map<std::string, size_t> namedData_;  // key -> segment index
};

}  // namespace etn
