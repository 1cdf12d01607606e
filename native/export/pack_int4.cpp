#include "pack_int4.h"

#include <cstring>

#include "../runtime/error.h"

namespace etn::exporter {

size_t packedInt4Size(size_t rows, size_t cols, Int4Order order) { return rows * ((cols + 1) / 2); }

void packInt4(const int8_t* q, size_t rows, size_t cols, Int4Order order, uint8_t* out) {
  ETN_CHECK(order == Int4Order::LowFirst || cols % 2 == 0, ErrorCode::InvalidArgument, "packInt4: int4 rows of ", cols,
            " values: two per byte needs an even count");
  const size_t rowBytes = (cols + 1) / 2;
  const int lowShift = order == Int4Order::LowFirst ? 0 : 4;  // where column 2k goes
  const int highShift = 4 - lowShift;                          // where column 2k + 1 goes
  for (size_t r = 0; r < rows; ++r) {
    const int8_t* qr = q + r * cols;
    uint8_t* o = out + r * rowBytes;
    std::memset(o, 0, rowBytes);
    // One pass to pack, one to validate: the packing loop stays branch-free.
    unsigned bad = 0;
    for (size_t c = 0; c < cols; ++c) {
      const unsigned v = static_cast<unsigned>(qr[c] + 8);
      bad |= v;
      o[c / 2] |= static_cast<uint8_t>((v & 15) << ((c & 1) ? highShift : lowShift));
    }
    if (bad > 15) {
      for (size_t c = 0; c < cols; ++c)
        ETN_CHECK(qr[c] >= -8 && qr[c] <= 7, ErrorCode::InvalidArgument, "packInt4: value ", int(qr[c]), " at [", r, ", ", c,
                  "] is not an int4");
    }
  }
}

}  // namespace etn::exporter
