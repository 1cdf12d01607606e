#include "scalar_type.h"

#include <cmath>
#include <cstdio>

namespace etn {

size_t elementSize(ScalarType t) {
  switch (t) {
    case ScalarType::Byte: case ScalarType::Char: case ScalarType::Bool:
    case ScalarType::QInt8: case ScalarType::QUInt8: case ScalarType::QUInt4x2:
    case ScalarType::QUInt2x4: case ScalarType::Float8E5M2: case ScalarType::Float8E4M3FN:
    case ScalarType::Float8E5M2FNUZ: case ScalarType::Float8E4M3FNUZ:
      return 1;
    case ScalarType::Short: case ScalarType::Half: case ScalarType::BFloat16:
    case ScalarType::Bits16: case ScalarType::UInt16:
      return 2;
    case ScalarType::Int: case ScalarType::Float: case ScalarType::QInt32: case ScalarType::UInt32:
      return 4;
    case ScalarType::Long: case ScalarType::Double: case ScalarType::UInt64:
      return 8;
  }
  return 0;
}

bool isKnownScalarType(int code) {
  return elementSize(static_cast<ScalarType>(code)) != 0;
}

const char* scalarTypeName(ScalarType t) {
  switch (t) {
    case ScalarType::Byte: return "uint8";
    case ScalarType::Char: return "int8";
    case ScalarType::Short: return "int16";
    case ScalarType::Int: return "int32";
    case ScalarType::Long: return "int64";
    case ScalarType::Half: return "float16";
    case ScalarType::Float: return "float32";
    case ScalarType::Double: return "float64";
    case ScalarType::Bool: return "bool";
    case ScalarType::QInt8: return "qint8";
    case ScalarType::QUInt8: return "quint8";
    case ScalarType::QInt32: return "qint32";
    case ScalarType::BFloat16: return "bfloat16";
    case ScalarType::QUInt4x2: return "quint4x2";
    case ScalarType::QUInt2x4: return "quint2x4";
    case ScalarType::Bits16: return "bits16";
    case ScalarType::Float8E5M2: return "float8_e5m2";
    case ScalarType::Float8E4M3FN: return "float8_e4m3fn";
    case ScalarType::Float8E5M2FNUZ: return "float8_e5m2fnuz";
    case ScalarType::Float8E4M3FNUZ: return "float8_e4m3fnuz";
    case ScalarType::UInt16: return "uint16";
    case ScalarType::UInt32: return "uint32";
    case ScalarType::UInt64: return "uint64";
  }
  return "unknown";
}

bool isFloatingType(ScalarType t) {
  return t == ScalarType::Half || t == ScalarType::Float || t == ScalarType::Double ||
         t == ScalarType::BFloat16;
}

bool isIntegralType(ScalarType t, bool includeBool) {
  switch (t) {
    case ScalarType::Byte: case ScalarType::Char: case ScalarType::Short:
    case ScalarType::Int: case ScalarType::Long: case ScalarType::UInt16:
    case ScalarType::UInt32: case ScalarType::UInt64:
      return true;
    case ScalarType::Bool:
      return includeBool;
    default:
      return false;
  }
}

float halfToFloat(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  const uint32_t mant = h & 0x3ff;
  float f;
  if (exp == 0) {
    // zero or subnormal: value = mant * 2^-24
    f = std::ldexp(static_cast<float>(mant), -24);
    if (sign) f = -f;
    return f;
  }
  uint32_t bits;
  if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  }
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t floatToHalf(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  if (std::isnan(f)) return sign | 0x7e00u;
  const float a = std::fabs(f);
  if (a >= 65520.0f) return sign | 0x7c00u;  // rounds to infinity
  if (a < 6.103515625e-05f) {
    // subnormal half: quantum 2^-24, nearbyint rounds half to even
    const float q = std::nearbyint(a * 16777216.0f);
    return sign | static_cast<uint16_t>(q);
  }
  uint32_t abits = bits & 0x7fffffffu;
  // rebias exponent 127 -> 15 and round the 13 dropped mantissa bits to nearest even
  uint32_t rounded = abits + 0xfffu + ((abits >> 13) & 1u);
  return sign | static_cast<uint16_t>((rounded - (112u << 23)) >> 13);
}

uint16_t floatToBf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if (std::isnan(f)) return static_cast<uint16_t>((bits >> 16) | 0x40u);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

}  // namespace etn
