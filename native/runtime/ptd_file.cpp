#include "ptd_file.h"

#include <cstring>

#include "error.h"
#include "flat_tensor_generated.h"
#include "little_endian.h"

namespace etn {

namespace fbt = flat_tensor_flatbuffer;

namespace {
constexpr size_t kHeaderOffset = 8;
constexpr uint32_t kMinHeaderLength = 40;
}  // namespace

bool PtdFile::looksLikePtd(const DataBuffer& buffer) {
  return buffer.size() >= 16 && std::memcmp(buffer.data() + 4, "FT01", 4) == 0;
}

std::shared_ptr<PtdFile> PtdFile::parse(std::shared_ptr<DataBuffer> buffer) {
  const std::string& name = buffer->name();
  const uint8_t* d = buffer->data();
  const size_t size = buffer->size();
  if (!looksLikePtd(*buffer))
    fail(ErrorCode::InvalidProgram, name, ": not a .ptd file (identifier FT01 missing)");
  if (size < kHeaderOffset + kMinHeaderLength || std::memcmp(d + kHeaderOffset, "FH01", 4) != 0)
    fail(ErrorCode::InvalidProgram, name, ": .ptd header FH01 missing or truncated");
  const uint32_t headerLength = readLE<uint32_t>(d + kHeaderOffset + 4);
  if (headerLength < kMinHeaderLength)
    fail(ErrorCode::InvalidProgram, name, ": .ptd header length ", headerLength, " is too small");
  const uint64_t fbOffset = readLE<uint64_t>(d + kHeaderOffset + 8);
  const uint64_t fbSize = readLE<uint64_t>(d + kHeaderOffset + 16);
  const uint64_t segBase = readLE<uint64_t>(d + kHeaderOffset + 24);
  const uint64_t segSize = readLE<uint64_t>(d + kHeaderOffset + 32);
  if (fbOffset > size || fbSize > size - fbOffset)
    fail(ErrorCode::InvalidProgram, name, ": flatbuffer range exceeds the file (", size, " bytes)");
  if (segBase > size || segSize > size - segBase)
    fail(ErrorCode::InvalidProgram, name, ": segment data exceeds the file (", size, " bytes)");
  const size_t fbEnd = static_cast<size_t>(fbOffset + fbSize);
  flatbuffers::Verifier verifier(d, fbEnd);
  if (!fbt::VerifyFlatTensorBuffer(verifier))
    fail(ErrorCode::InvalidProgram, name,
         ": .ptd flatbuffer does not verify against the current FlatTensor layout (files "
         "written before mid-2025 use an older, incompatible layout and are not supported)");
  const fbt::FlatTensor* root = fbt::GetFlatTensor(d);
  auto result = std::make_shared<PtdFile>();
  result->buffer_ = buffer;
  const auto* segments = root->segments();
  const auto* named = root->named_data();
  if (named == nullptr) return result;
  for (flatbuffers::uoffset_t i = 0; i < named->size(); ++i) {
    const fbt::NamedData* nd = named->Get(i);
    if (nd->key() == nullptr)
      fail(ErrorCode::InvalidProgram, name, ": named_data[", i, "] has no key");
    const uint32_t si = nd->segment_index();
    if (segments == nullptr || si >= segments->size())
      fail(ErrorCode::InvalidProgram, name, ": named_data '", nd->key()->str(),
           "' refers to missing segment ", si);
    const fbt::DataSegment* seg = segments->Get(si);
    NamedBlob blob;
    if (seg->offset() > segSize || seg->size() > segSize - seg->offset() ||
        !buffer->range(segBase + seg->offset(), seg->size(), &blob.bytes))
      fail(ErrorCode::InvalidProgram, name, ": segment ", si, " of '", nd->key()->str(),
           "' is out of the file's bounds");
    if (const fbt::TensorLayout* layout = nd->tensor_layout()) {
      const int code = static_cast<int>(layout->scalar_type());
      if (!isKnownScalarType(code))
        fail(ErrorCode::InvalidProgram, name, ": '", nd->key()->str(), "' has unknown dtype ", code);
      blob.hasLayout = true;
      blob.dtype = static_cast<ScalarType>(code);
      if (layout->sizes())
        for (int32_t s : *layout->sizes()) blob.sizes.push_back(s);
      if (layout->dim_order())
        for (uint8_t o : *layout->dim_order()) blob.dimOrder.push_back(o);
    }
    result->entries_[nd->key()->str()] = blob;
  }
  return result;
}

const NamedBlob* PtdFile::find(const std::string& key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : &it->second;
}

}  // namespace etn
