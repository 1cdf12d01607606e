// The element types of ExecuTorch tensors, with their on-disk codes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace etn {

enum class ScalarType : int8_t {
  Byte = 0,    // uint8
  Char = 1,    // int8
  Short = 2,   // int16
  Int = 3,     // int32
  Long = 4,    // int64
  Half = 5,    // float16
  Float = 6,   // float32
  Double = 7,  // float64
  Bool = 11,
  QInt8 = 12,
  QUInt8 = 13,
  QInt32 = 14,
  BFloat16 = 15,
  QUInt4x2 = 16,
  QUInt2x4 = 17,
  Bits16 = 22,
  Float8E5M2 = 23,
  Float8E4M3FN = 24,
  Float8E5M2FNUZ = 25,
  Float8E4M3FNUZ = 26,
  UInt16 = 27,
  UInt32 = 28,
  UInt64 = 29,
};

// Bytes per element, or 0 for a code that is not a known type.
size_t elementSize(ScalarType t);
// "float32", "int64", ... (the names the JS API uses); "unknown(N)" never: callers check isKnown.
const char* scalarTypeName(ScalarType t);
bool isKnownScalarType(int code);
bool isFloatingType(ScalarType t);   // Half, Float, Double, BFloat16
bool isIntegralType(ScalarType t, bool includeBool);

// float16 / bfloat16 <-> float32, round to nearest even.
float halfToFloat(uint16_t h);
uint16_t floatToHalf(float f);
inline float bf16ToFloat(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
uint16_t floatToBf16(float f);

}  // namespace etn
