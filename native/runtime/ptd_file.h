// An external weight file (.ptd, FlatTensor, identifier FT01 with an FH01
// header): named byte blobs with an optional tensor layout each.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "data_buffer.h"
#include "scalar_type.h"

namespace etn {

struct NamedBlob {
  ByteSpan bytes;
  bool hasLayout = false;
  ScalarType dtype = ScalarType::Byte;
  std::vector<int64_t> sizes;
  std::vector<uint8_t> dimOrder;
};

class PtdFile {
 public:
  // Verifies the header and flatbuffer and bounds-checks every segment.
  // Throws InvalidProgram (naming the file) on anything malformed, including
  // the incompatible Feb-2025 layout that shares the FT01 identifier.
  static std::shared_ptr<PtdFile> parse(std::shared_ptr<DataBuffer> buffer);
  static bool looksLikePtd(const DataBuffer& buffer);

  const NamedBlob* find(const std::string& key) const;
  const std::map<std::string, NamedBlob>& entries() const { return entries_; }
  const std::string& name() const { return buffer_->name(); }
  const DataBuffer& buffer() const { return *buffer_; }

 private:
  std::shared_ptr<DataBuffer> buffer_;
  std::map<std::string, NamedBlob> entries_;
};

}  // namespace etn
