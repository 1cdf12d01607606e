#include "kernel_util.h"

#include <cmath>
#include <limits>

namespace etn {

namespace {
template <typename T>
T readAs(const void* base, int64_t idx) {
  T v;
  std::memcpy(&v, static_cast<const char*>(base) + idx * static_cast<int64_t>(sizeof(T)), sizeof(T));
  return v;
}
template <typename T>
void writeAs(void* base, int64_t idx, T v) {
  std::memcpy(static_cast<char*>(base) + idx * static_cast<int64_t>(sizeof(T)), &v, sizeof(T));
}

// float -> integer like a C++ cast but defined for out-of-range and NaN inputs.
template <typename I>
I saturatingCast(double v) {
  if (std::isnan(v)) return 0;
  const double lo = static_cast<double>(std::numeric_limits<I>::min());
  const double hi = static_cast<double>(std::numeric_limits<I>::max());
  if (v <= lo) return std::numeric_limits<I>::min();
  if (v >= hi) return std::numeric_limits<I>::max();
  return static_cast<I>(v);
}
}  // namespace

double loadDouble(const void* base, ScalarType t, int64_t idx) {
  switch (t) {
    case ScalarType::Byte: case ScalarType::QUInt8: return readAs<uint8_t>(base, idx);
    case ScalarType::Char: case ScalarType::QInt8: return readAs<int8_t>(base, idx);
    case ScalarType::Short: return readAs<int16_t>(base, idx);
    case ScalarType::Int: case ScalarType::QInt32: return readAs<int32_t>(base, idx);
    case ScalarType::Long: return static_cast<double>(readAs<int64_t>(base, idx));
    case ScalarType::Half: return halfToFloat(readAs<uint16_t>(base, idx));
    case ScalarType::BFloat16: return bf16ToFloat(readAs<uint16_t>(base, idx));
    case ScalarType::Float: return readAs<float>(base, idx);
    case ScalarType::Double: return readAs<double>(base, idx);
    case ScalarType::Bool: return readAs<uint8_t>(base, idx) ? 1.0 : 0.0;
    case ScalarType::UInt16: return readAs<uint16_t>(base, idx);
    case ScalarType::UInt32: return readAs<uint32_t>(base, idx);
    case ScalarType::UInt64: return static_cast<double>(readAs<uint64_t>(base, idx));
    default: return 0;
  }
}

int64_t loadInt(const void* base, ScalarType t, int64_t idx) {
  switch (t) {
    case ScalarType::Long: return readAs<int64_t>(base, idx);
    case ScalarType::UInt64: return static_cast<int64_t>(readAs<uint64_t>(base, idx));
    case ScalarType::Half: case ScalarType::BFloat16: case ScalarType::Float:
    case ScalarType::Double:
      return saturatingCast<int64_t>(loadDouble(base, t, idx));
    default: return static_cast<int64_t>(loadDouble(base, t, idx));
  }
}

void storeDouble(void* base, ScalarType t, int64_t idx, double v) {
  switch (t) {
    case ScalarType::Byte: case ScalarType::QUInt8: writeAs<uint8_t>(base, idx, static_cast<uint8_t>(saturatingCast<int64_t>(v))); break;
    case ScalarType::Char: case ScalarType::QInt8: writeAs<int8_t>(base, idx, static_cast<int8_t>(saturatingCast<int64_t>(v))); break;
    case ScalarType::Short: writeAs<int16_t>(base, idx, static_cast<int16_t>(saturatingCast<int64_t>(v))); break;
    case ScalarType::Int: case ScalarType::QInt32: writeAs<int32_t>(base, idx, static_cast<int32_t>(saturatingCast<int64_t>(v))); break;
    case ScalarType::Long: writeAs<int64_t>(base, idx, saturatingCast<int64_t>(v)); break;
    case ScalarType::Half: writeAs<uint16_t>(base, idx, floatToHalf(static_cast<float>(v))); break;
    case ScalarType::BFloat16: writeAs<uint16_t>(base, idx, floatToBf16(static_cast<float>(v))); break;
    case ScalarType::Float: writeAs<float>(base, idx, static_cast<float>(v)); break;
    case ScalarType::Double: writeAs<double>(base, idx, v); break;
    case ScalarType::Bool: writeAs<uint8_t>(base, idx, v != 0 ? 1 : 0); break;
    case ScalarType::UInt16: writeAs<uint16_t>(base, idx, static_cast<uint16_t>(saturatingCast<int64_t>(v))); break;
    case ScalarType::UInt32: writeAs<uint32_t>(base, idx, static_cast<uint32_t>(saturatingCast<int64_t>(v))); break;
    case ScalarType::UInt64: writeAs<uint64_t>(base, idx, static_cast<uint64_t>(saturatingCast<int64_t>(v))); break;
    default: break;
  }
}

void storeInt(void* base, ScalarType t, int64_t idx, int64_t v) {
  switch (t) {
    case ScalarType::Byte: case ScalarType::QUInt8: writeAs<uint8_t>(base, idx, static_cast<uint8_t>(v)); break;
    case ScalarType::Char: case ScalarType::QInt8: writeAs<int8_t>(base, idx, static_cast<int8_t>(v)); break;
    case ScalarType::Short: writeAs<int16_t>(base, idx, static_cast<int16_t>(v)); break;
    case ScalarType::Int: case ScalarType::QInt32: writeAs<int32_t>(base, idx, static_cast<int32_t>(v)); break;
    case ScalarType::Long: writeAs<int64_t>(base, idx, v); break;
    case ScalarType::UInt16: writeAs<uint16_t>(base, idx, static_cast<uint16_t>(v)); break;
    case ScalarType::UInt32: writeAs<uint32_t>(base, idx, static_cast<uint32_t>(v)); break;
    case ScalarType::UInt64: writeAs<uint64_t>(base, idx, static_cast<uint64_t>(v)); break;
    case ScalarType::Bool: writeAs<uint8_t>(base, idx, v != 0 ? 1 : 0); break;
    default: storeDouble(base, t, idx, static_cast<double>(v)); break;
  }
}

void checkLoadable(const KernelArgs& args, const Tensor& t, const char* what) {
  switch (t.dtype()) {
    case ScalarType::QUInt4x2: case ScalarType::QUInt2x4: case ScalarType::Bits16:
    case ScalarType::Float8E5M2: case ScalarType::Float8E4M3FN:
    case ScalarType::Float8E5M2FNUZ: case ScalarType::Float8E4M3FNUZ:
      args.fail(ErrorCode::NotSupported, what, " has unsupported dtype ", scalarTypeName(t.dtype()));
    default:
      break;
  }
}

namespace {
// Category rank for promotion: bool < integer < floating.
int category(ScalarType t) {
  if (t == ScalarType::Bool) return 0;
  if (isFloatingType(t)) return 2;
  return 1;
}
}  // namespace

ScalarType promoteTypes(ScalarType a, ScalarType b) {
  if (a == b) return a;
  const int ca = category(a), cb = category(b);
  if (ca != cb) return ca > cb ? a : b;
  if (ca == 2) {
    // Half + BFloat16 -> Float; otherwise the wider float.
    if ((a == ScalarType::Half && b == ScalarType::BFloat16) ||
        (a == ScalarType::BFloat16 && b == ScalarType::Half))
      return ScalarType::Float;
    return elementSize(a) >= elementSize(b) ? a : b;
  }
  // Integers: uint8 with a signed type needs a signed type wide enough.
  const bool aU = a == ScalarType::Byte, bU = b == ScalarType::Byte;
  if (aU != bU) {
    ScalarType other = aU ? b : a;
    if (other == ScalarType::Char) return ScalarType::Short;
    return elementSize(other) > 1 ? other : ScalarType::Short;
  }
  return elementSize(a) >= elementSize(b) ? a : b;
}

ScalarType promoteWithScalar(ScalarType tensorType, const Scalar& s) {
  const int ct = category(tensorType);
  const int cs = s.kind == Scalar::Kind::Bool ? 0 : (s.kind == Scalar::Kind::Int ? 1 : 2);
  if (cs <= ct) return tensorType;
  return cs == 2 ? ScalarType::Float : ScalarType::Long;
}

namespace {
ScalarType combineWithZeroDim(ScalarType dimType, ScalarType zeroType) {
  if (isFloatingType(dimType)) return dimType;
  if (dimType == ScalarType::Bool || isFloatingType(zeroType)) return promoteTypes(dimType, zeroType);
  return dimType;
}
}  // namespace

ScalarType resultType(const Tensor& a, const Tensor& b) {
  const bool az = a.dim() == 0, bz = b.dim() == 0;
  if (az == bz) return promoteTypes(a.dtype(), b.dtype());
  return az ? combineWithZeroDim(b.dtype(), a.dtype()) : combineWithZeroDim(a.dtype(), b.dtype());
}

std::vector<int64_t> broadcastShapes(const KernelArgs& args, const std::vector<int64_t>& a,
                                     const std::vector<int64_t>& b) {
  const size_t rank = std::max(a.size(), b.size());
  std::vector<int64_t> out(rank, 1);
  for (size_t k = 0; k < rank; ++k) {
    const int64_t da = k < rank - a.size() ? 1 : a[k - (rank - a.size())];
    const int64_t db = k < rank - b.size() ? 1 : b[k - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      args.fail(ErrorCode::InvalidArgument, "shapes ", formatSizes(a), " and ", formatSizes(b),
                " do not broadcast");
    out[k] = da == 1 ? db : da;
  }
  return out;
}

std::vector<int64_t> broadcastStrides(const Tensor& t, const std::vector<int64_t>& outSizes) {
  const size_t rank = outSizes.size();
  const size_t tr = t.sizes().size();
  std::vector<int64_t> s(rank, 0);
  for (size_t k = 0; k < tr && k < rank; ++k) {
    const size_t od = rank - tr + k;
    s[od] = t.sizes()[k] == 1 ? 0 : t.strides()[k];
  }
  return s;
}

int64_t normalizeDim(const KernelArgs& args, int64_t dim, int64_t rank) {
  const int64_t r = rank == 0 ? 1 : rank;
  if (dim < -r || dim >= r)
    args.fail(ErrorCode::InvalidArgument, "dim ", dim, " out of range for rank ", rank);
  return dim < 0 ? dim + r : dim;
}

void requireContiguous(const KernelArgs& args, const Tensor& t, const char* what) {
  if (!t.isContiguous())
    args.fail(ErrorCode::NotSupported, what, " uses a non-default dim order");
}

void requireSameDtype(const KernelArgs& args, const Tensor& a, const Tensor& b, const char* what) {
  if (a.dtype() != b.dtype())
    args.fail(ErrorCode::InvalidArgument, what, ": dtype ", scalarTypeName(a.dtype()), " vs ",
              scalarTypeName(b.dtype()));
}

}  // namespace etn
