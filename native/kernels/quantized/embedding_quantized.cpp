// Embedding lookups from a quantized table (namespace quantized_decomposed):
//   embedding_byte.out(Tensor weight, Tensor weight_scales, Tensor? weight_zero_points,
//       int weight_quant_min, int weight_quant_max, Tensor indices, *, Tensor(a!) out)
//   embedding_byte.dtype_out(..., Tensor indices, *, ScalarType? dtype=None, Tensor(a!) out)
//   embedding_4bit.out / embedding_4bit.dtype_out, embedding_2bit.out / .dtype_out (same
//       arguments; there `dtype` is positional, which does not change the argument list).
//
// The table has V rows of D values, quantized per row or per group of D / G values:
//   out[i, j] = (w(idx[i], j) - zp[idx[i], j / (D/G)]) * scale[idx[i], j / (D/G)]
// computed in float32 and stored in out's dtype. Scales are [V] or [V, G]; zero points
// (optional, 0 when absent) have the scales' shape and are usually float.
// Weight storage:
//   byte: int8 (or uint8) [V, D], one value per element;
//   4bit: uint8 [V, D/2], value + 8 per nibble, element 2k in the HIGH nibble and
//         element 2k+1 in the LOW nibble of byte k;
//   2bit: uint8 [V, D/4], value + 2 per 2-bit field, element 4k+m in bits 2m..2m+1.
// The output is indices.shape + [D]. quant_min / quant_max are metadata only.
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "../kernel_util.h"

namespace etn {
namespace {

void requireData(const KernelArgs& args, const Tensor& t, const char* what) {
  if (t.numel() > 0 && t.data() == nullptr)
    args.fail(ErrorCode::Internal, what, " ", t.describe(), " has no data buffer");
}

bool isParamFloat(ScalarType t) {
  return t == ScalarType::Float || t == ScalarType::Half || t == ScalarType::BFloat16 ||
         t == ScalarType::Double;
}

// Quantized value j of a table row (already offset to the row's first byte).
template <int Bits>
inline int32_t weightAt(const uint8_t* row, bool signedBytes, int64_t j) {
  if constexpr (Bits == 8) {
    return signedBytes ? static_cast<int32_t>(static_cast<int8_t>(row[j]))
                       : static_cast<int32_t>(row[j]);
  } else if constexpr (Bits == 4) {
    const uint8_t byte = row[j >> 1];
    const uint8_t nib = (j & 1) ? (byte & 0x0F) : (byte >> 4);
    return static_cast<int32_t>(nib) - 8;
  } else {
    const uint8_t byte = row[j >> 2];
    return static_cast<int32_t>((byte >> (2 * (j & 3))) & 0x03) - 2;
  }
}

template <int Bits>
void embeddingImpl(KernelArgs& args, bool hasDtypeArg) {
  args.expectCount(hasDtypeArg ? 9 : 8);
  const Tensor& weight = args.tensor(0);
  const Tensor& scales = args.tensor(1);
  const Tensor* zeros = args.optTensor(2);
  const int64_t qmin = args.toInt(3), qmax = args.toInt(4);
  const Tensor& indices = args.tensor(5);
  // The requested output dtype, when the program names one (-1: none).
  int requested = -1;
  if (hasDtypeArg) {
    if (std::optional<ScalarType> t = args.optScalarType(6)) requested = static_cast<int>(*t);
  }
  Tensor& out = args.tensor(hasDtypeArg ? 7 : 6);

  constexpr int64_t perByte = 8 / Bits;
  if (weight.dim() != 2)
    args.fail(ErrorCode::InvalidArgument, "weight must be 2-D, got ", weight.describe());
  const bool signedBytes = weight.dtype() == ScalarType::Char;
  if (weight.dtype() != ScalarType::Byte && weight.dtype() != ScalarType::Char)
    args.fail(ErrorCode::InvalidArgument, "weight must be uint8 or int8, got ",
              weight.describe());
  requireContiguous(args, weight, "weight");
  const int64_t V = weight.size(0);
  const int64_t packedCols = weight.size(1);
  const int64_t D = packedCols * perByte;

  if (scales.dim() != 1 && scales.dim() != 2)
    args.fail(ErrorCode::InvalidArgument, "weight_scales must be 1-D or 2-D, got ",
              scales.describe());
  if (scales.size(0) != V)
    args.fail(ErrorCode::InvalidArgument, "weight_scales ", scales.describe(), " must have ", V,
              " rows (weight ", weight.describe(), ")");
  const int64_t G = scales.dim() == 2 ? scales.size(1) : 1;
  if (G <= 0 || D % G != 0)
    args.fail(ErrorCode::InvalidArgument, "weight_scales ", scales.describe(), ": ", G,
              " groups do not divide the embedding dim ", D);
  if (!isParamFloat(scales.dtype()))
    args.fail(ErrorCode::InvalidArgument, "weight_scales must be floating point, got ",
              scales.describe());
  requireContiguous(args, scales, "weight_scales");
  if (zeros) {
    if (zeros->sizes() != scales.sizes())
      args.fail(ErrorCode::InvalidArgument, "weight_zero_points ", zeros->describe(),
                " must have the shape of weight_scales ", scales.describe());
    checkLoadable(args, *zeros, "weight_zero_points");
    requireContiguous(args, *zeros, "weight_zero_points");
  }
  if (qmin > qmax)
    args.fail(ErrorCode::InvalidArgument, "weight_quant_min ", qmin,
              " is greater than weight_quant_max ", qmax);
  if (indices.dtype() != ScalarType::Long && indices.dtype() != ScalarType::Int)
    args.fail(ErrorCode::InvalidArgument, "indices must be int64 or int32, got ",
              indices.describe());
  requireContiguous(args, indices, "indices");
  if (!isParamFloat(out.dtype()))
    args.fail(ErrorCode::InvalidArgument, "out must be floating point, got ", out.describe());
  if (requested >= 0 && static_cast<ScalarType>(requested) != out.dtype())
    args.fail(ErrorCode::InvalidArgument, "dtype ", scalarTypeName(static_cast<ScalarType>(requested)),
              " does not match the out tensor ", out.describe());
  if (out.dim() != indices.dim() + 1)
    args.fail(ErrorCode::InvalidArgument, "out ", out.describe(), " must have rank ",
              indices.dim() + 1, " (indices ", indices.describe(), " plus the embedding dim)");
  std::vector<int64_t> outSizes = indices.sizes();
  outSizes.push_back(D);
  args.resizeOut(out, outSizes);
  requireContiguous(args, out, "out");

  requireData(args, weight, "weight");
  requireData(args, scales, "weight_scales");
  if (zeros) requireData(args, *zeros, "weight_zero_points");
  requireData(args, indices, "indices");
  requireData(args, out, "out");

  // Every index is checked before anything is written.
  const int64_t n = indices.numel();
  std::vector<int64_t> rows(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = loadInt(indices.data(), indices.dtype(), i);
    if (r < 0 || r >= V)
      args.fail(ErrorCode::InvalidArgument, "index ", r, " (indices element ", i,
                ") is out of range for an embedding table of ", V, " rows");
    rows[static_cast<size_t>(i)] = r;
  }
  if (n == 0 || D == 0) return;

  const int64_t groupSize = D / G;
  const uint8_t* w = static_cast<const uint8_t*>(weight.data());
  const ScalarType st = scales.dtype(), ot = out.dtype();
  std::vector<float> rowBuf(static_cast<size_t>(D));
  char* outData = static_cast<char*>(out.data());
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = rows[static_cast<size_t>(i)];
    const uint8_t* wr = w + r * packedCols;
    for (int64_t g = 0; g < G; ++g) {
      const float scale = static_cast<float>(loadDouble(scales.data(), st, r * G + g));
      const float zp =
          zeros ? static_cast<float>(loadDouble(zeros->data(), zeros->dtype(), r * G + g)) : 0.0f;
      for (int64_t j = g * groupSize; j < (g + 1) * groupSize; ++j)
        rowBuf[static_cast<size_t>(j)] =
            (static_cast<float>(weightAt<Bits>(wr, signedBytes, j)) - zp) * scale;
    }
    if (ot == ScalarType::Float) {
      std::memcpy(outData + i * D * 4, rowBuf.data(), static_cast<size_t>(D) * 4);
    } else {
      for (int64_t j = 0; j < D; ++j) storeDouble(outData, ot, i * D + j, rowBuf[static_cast<size_t>(j)]);
    }
  }
}

void embedding_byte_out(KernelArgs& args) { embeddingImpl<8>(args, false); }
void embedding_byte_dtype_out(KernelArgs& args) { embeddingImpl<8>(args, true); }
void embedding_4bit_out(KernelArgs& args) { embeddingImpl<4>(args, false); }
void embedding_4bit_dtype_out(KernelArgs& args) { embeddingImpl<4>(args, true); }
void embedding_2bit_out(KernelArgs& args) { embeddingImpl<2>(args, false); }
void embedding_2bit_dtype_out(KernelArgs& args) { embeddingImpl<2>(args, true); }

}  // namespace

ETN_REGISTER_KERNEL("quantized_decomposed::embedding_byte.out", embedding_byte_out);
ETN_REGISTER_KERNEL("quantized_decomposed::embedding_byte.dtype_out", embedding_byte_dtype_out);
ETN_REGISTER_KERNEL("quantized_decomposed::embedding_4bit.out", embedding_4bit_out);
ETN_REGISTER_KERNEL("quantized_decomposed::embedding_4bit.dtype_out", embedding_4bit_dtype_out);
ETN_REGISTER_KERNEL("quantized_decomposed::embedding_2bit.out", embedding_2bit_out);
ETN_REGISTER_KERNEL("quantized_decomposed::embedding_2bit.dtype_out", embedding_2bit_dtype_out);

}  // namespace etn
