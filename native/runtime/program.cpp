#include "program.h"

#include <cstring>

#include "error.h"
#include "little_endian.h"

namespace etn {

namespace {
constexpr size_t kMinFileSize = 8;          // root offset + identifier
constexpr size_t kHeaderOffset = 8;         // eh00 sits right after the identifier
constexpr uint32_t kMinHeaderLength = 24;   // magic, length, program_size, segment_base_offset
constexpr uint32_t kHeaderWithDataSize = 32;
}  // namespace

std::shared_ptr<Program> Program::load(std::shared_ptr<DataBuffer> pte,
                                       std::vector<std::shared_ptr<PtdFile>> dataFiles) {
  std::shared_ptr<Program> p(new Program());
  p->buffer_ = std::move(pte);
  p->dataFiles_ = std::move(dataFiles);
  const std::string& name = p->buffer_->name();
  const uint8_t* d = p->buffer_->data();
  if (p->buffer_->size() < kMinFileSize)
    fail(ErrorCode::InvalidProgram, name, ": file too short (", p->buffer_->size(), " bytes)");
  if (std::memcmp(d + 4, "ET12", 4) != 0) {
    if (std::memcmp(d + 4, "FT01", 4) == 0)
      fail(ErrorCode::InvalidProgram, name, ": this is a .ptd weight file, not a program; pass it in dataFiles");
    if (std::memcmp(d + 4, "BP", 2) == 0)
      fail(ErrorCode::NotSupported, name, ": bundled programs (.bpte) are not supported; export a plain .pte");
    fail(ErrorCode::InvalidProgram, name, ": not an ExecuTorch program (file identifier ET12 missing)");
  }
  p->parseHeader();
  const size_t fbSize = p->header_.present ? static_cast<size_t>(p->header_.programSize)
                                           : p->buffer_->size();
  flatbuffers::Verifier::Options opts;
  opts.max_depth = 64;
  opts.max_tables = 50'000'000;
  flatbuffers::Verifier verifier(d, fbSize, opts);
  if (!fb::VerifyProgramBuffer(verifier))
    fail(ErrorCode::InvalidProgram, name, ": program flatbuffer failed verification (corrupt or truncated file)");
  p->root_ = fb::GetProgram(d);
  if (p->root_->execution_plan() == nullptr || p->root_->execution_plan()->size() == 0)
    fail(ErrorCode::InvalidProgram, name, ": program has no methods");
  p->collectSegments();
  p->collectNamedData();
  return p;
}

void Program::parseHeader() {
  const uint8_t* d = buffer_->data();
  const size_t size = buffer_->size();
  const std::string& name = buffer_->name();
  if (size < kHeaderOffset + 8 || std::memcmp(d + kHeaderOffset, "eh00", 4) != 0) return;
  const uint32_t length = readLE<uint32_t>(d + kHeaderOffset + 4);
  if (length < kMinHeaderLength || size < kHeaderOffset + length)
    fail(ErrorCode::InvalidProgram, name, ": extended header eh00 has bad length ", length);
  header_.present = true;
  header_.length = length;
  header_.programSize = readLE<uint64_t>(d + kHeaderOffset + 8);
  header_.segmentBaseOffset = readLE<uint64_t>(d + kHeaderOffset + 16);
  if (length >= kHeaderWithDataSize) header_.segmentDataSize = readLE<uint64_t>(d + kHeaderOffset + 24);
  if (header_.programSize < kHeaderOffset + length || header_.programSize > size)
    fail(ErrorCode::InvalidProgram, name, ": program_size ", header_.programSize,
         " does not fit the file (", size, " bytes)");
  if (header_.segmentBaseOffset > size)
    fail(ErrorCode::InvalidProgram, name, ": segment_base_offset ", header_.segmentBaseOffset,
         " is past the end of the file (", size, " bytes; truncated?)");
  if (header_.segmentDataSize > size - header_.segmentBaseOffset)
    fail(ErrorCode::InvalidProgram, name, ": file is truncated: segments need ",
         header_.segmentBaseOffset + header_.segmentDataSize, " bytes, file has ", size);
}

void Program::collectSegments() {
  const auto* segs = root_->segments();
  if (segs == nullptr) return;
  const std::string& name = buffer_->name();
  for (flatbuffers::uoffset_t i = 0; i < segs->size(); ++i) {
    const fb::DataSegment* s = segs->Get(i);
    ByteSpan span;
    if (s->size() == 0) {
      // Files without constants still list an empty segment and may have no header.
      segments_.push_back(span);
      segmentOffsets_.push_back(0);
      continue;
    }
    if (!header_.present)
      fail(ErrorCode::InvalidProgram, name, ": segment ", i, " has data but the file has no eh00 header");
    const uint64_t base = header_.segmentBaseOffset;
    if (s->offset() > UINT64_MAX - base || !buffer_->range(base + s->offset(), s->size(), &span))
      fail(ErrorCode::InvalidProgram, name, ": segment ", i, " (offset ", s->offset(), ", size ",
           s->size(), ") lies outside the file (", buffer_->size(), " bytes; truncated?)");
    segments_.push_back(span);
    segmentOffsets_.push_back(base + s->offset());
  }
}

void Program::collectNamedData() {
  const auto* named = root_->named_data();
  if (named == nullptr) return;
  for (flatbuffers::uoffset_t i = 0; i < named->size(); ++i) {
    const fb::NamedData* nd = named->Get(i);
    if (nd->key() == nullptr)
      fail(ErrorCode::InvalidProgram, name(), ": named_data[", i, "] has no key");
    if (nd->segment_index() >= segments_.size())
      fail(ErrorCode::InvalidProgram, name(), ": named_data '", nd->key()->str(),
           "' refers to missing segment ", nd->segment_index());
    namedData_[nd->key()->str()] = nd->segment_index();
  }
}

std::vector<std::string> Program::methodNames() const {
  std::vector<std::string> names;
  for (const fb::ExecutionPlan* plan : *root_->execution_plan())
    names.push_back(plan->name() ? plan->name()->str() : std::string());
  return names;
}

const fb::ExecutionPlan* Program::plan(const std::string& method) const {
  for (const fb::ExecutionPlan* plan : *root_->execution_plan())
    if (plan->name() && plan->name()->str() == method) return plan;
  return nullptr;
}

const ByteSpan& Program::segment(size_t index) const {
  if (index >= segments_.size())
    fail(ErrorCode::InvalidProgram, name(), ": segment index ", index, " out of range (",
         segments_.size(), " segments)");
  return segments_[index];
}

uint64_t Program::segmentFileOffset(size_t index) const {
  segment(index);
  return segmentOffsets_[index];
}

ByteSpan Program::constantData(uint32_t bufferIndex, size_t nbytes, const std::string& what) const {
  const auto* legacy = root_->constant_buffer();
  // Legacy files keep constants inline; index 0 is an empty placeholder in both layouts.
  if (legacy != nullptr && legacy->size() > 1) {
    if (bufferIndex >= legacy->size())
      fail(ErrorCode::InvalidProgram, name(), ": ", what, " uses constant buffer ", bufferIndex,
           " of ", legacy->size());
    const fb::Buffer* b = legacy->Get(bufferIndex);
    const size_t have = b->storage() ? b->storage()->size() : 0;
    if (have < nbytes)
      fail(ErrorCode::InvalidProgram, name(), ": ", what, " needs ", nbytes,
           " bytes, constant buffer ", bufferIndex, " has ", have);
    ByteSpan span;
    span.data = b->storage() ? b->storage()->data() : nullptr;
    span.size = have;
    return span;
  }
  const fb::SubsegmentOffsets* cs = root_->constant_segment();
  if (cs == nullptr || cs->offsets() == nullptr)
    fail(ErrorCode::InvalidProgram, name(), ": ", what, " refers to constant ", bufferIndex,
         " but the program has no constant data");
  const auto* offsets = cs->offsets();
  if (bufferIndex >= offsets->size())
    fail(ErrorCode::InvalidProgram, name(), ": ", what, " uses constant ", bufferIndex, " of ",
         offsets->size());
  const ByteSpan& seg = segment(cs->segment_index());
  const uint64_t off = offsets->Get(bufferIndex);
  if (off > seg.size || nbytes > seg.size - off)
    fail(ErrorCode::InvalidProgram, name(), ": ", what, " (", nbytes, " bytes at offset ", off,
         ") overruns the constant segment (", seg.size, " bytes)");
  ByteSpan span;
  span.data = seg.data + off;
  span.size = static_cast<size_t>(seg.size - off);
  return span;
}

ByteSpan Program::mutableData(uint64_t segmentsIdx, uint32_t bufferIndex, size_t nbytes,
                              const std::string& what) const {
  const auto* mds = root_->mutable_data_segments();
  if (mds == nullptr || segmentsIdx >= mds->size())
    fail(ErrorCode::InvalidProgram, name(), ": ", what, " has initial state in mutable data segment ",
         segmentsIdx, " which the program lacks");
  const fb::SubsegmentOffsets* ss = mds->Get(static_cast<flatbuffers::uoffset_t>(segmentsIdx));
  if (ss->offsets() == nullptr || bufferIndex >= ss->offsets()->size())
    fail(ErrorCode::InvalidProgram, name(), ": ", what, " uses mutable buffer ", bufferIndex,
         " out of range");
  const ByteSpan& seg = segment(ss->segment_index());
  const uint64_t off = ss->offsets()->Get(bufferIndex);
  if (off > seg.size || nbytes > seg.size - off)
    fail(ErrorCode::InvalidProgram, name(), ": ", what, " initial state overruns its segment");
  ByteSpan span;
  span.data = seg.data + off;
  span.size = nbytes;
  return span;
}

ByteSpan Program::delegatePayload(const fb::BackendDelegateDataReference* ref,
                                  const std::string& what) const {
  if (ref == nullptr) fail(ErrorCode::InvalidProgram, name(), ": ", what, " has no payload reference");
  if (ref->location() == fb::DataLocation::INLINE) {
    const auto* inl = root_->backend_delegate_data();
    if (inl == nullptr || ref->index() >= inl->size())
      fail(ErrorCode::InvalidProgram, name(), ": ", what, " uses inline delegate data ", ref->index(),
           " out of range");
    const auto* data = inl->Get(ref->index())->data();
    ByteSpan span;
    if (data) {
      span.data = data->data();
      span.size = data->size();
    }
    return span;
  }
  if (ref->location() == fb::DataLocation::SEGMENT) return segment(ref->index());
  fail(ErrorCode::InvalidProgram, name(), ": ", what, " has unknown data location ",
       static_cast<int>(ref->location()));
}

void Program::releasePages(const void* p, size_t n) const {
  buffer_->releasePages(p, n);
  for (const auto& f : dataFiles_) f->buffer().releasePages(p, n);
}

bool Program::findNamedData(const std::string& key, NamedBlob* out) const {
  auto it = namedData_.find(key);
  if (it != namedData_.end()) {
    *out = NamedBlob();
    out->bytes = segments_[it->second];
    return true;
  }
  for (const auto& f : dataFiles_) {
    if (const NamedBlob* b = f->find(key)) {
      *out = *b;
      return true;
    }
  }
  return false;
}

}  // namespace etn
