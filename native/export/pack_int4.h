// int4 codes (int8 values in [-8, 7], row-major [rows, cols]) two per byte, value + 8 in
// each nibble, in either of the two orders the exported programs use:
//   LowFirst:  XNNPACK's qbint4 / qcint4 filters (column 2k in the low nibble); a row
//              of odd length ends in a half-filled byte
//   HighFirst: quantized_decomposed::embedding_4bit (column 2k in the high nibble);
//              rows must have an even length
// The native twins of packInt4ForXnnpack (lib/export/pte/xnnpack-writer.ts) and
// packInt4HighFirst (lib/export/passes/quantize-weights.ts), byte for byte.
#pragma once
#include <cstddef>
#include <cstdint>

namespace etn::exporter {

enum class Int4Order { LowFirst, HighFirst };

// Bytes the packed codes take.
size_t packedInt4Size(size_t rows, size_t cols, Int4Order order);

// Throws etn::Error(InvalidArgument) for an odd row length in HighFirst order and for
// a value outside [-8, 7] (the quantizer never makes one: that would be a bug).
void packInt4(const int8_t* q, size_t rows, size_t cols, Int4Order order, uint8_t* out);

}  // namespace etn::exporter
