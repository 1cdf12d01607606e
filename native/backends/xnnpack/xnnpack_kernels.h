// Our own loops for the XNNPACK delegate: the data-movement nodes (transpose,
// slice, concatenate: any element size; pad), the math Debian's 2022 XNNPACK operator API lacks
// (tanh, exp, log, sin, cos, gelu, rsqrt, batch matmul, prelu), fallbacks
// (broadcasting binary ops above XNNPACK's 6 dims, FC with a runtime filter), the
// reference versions of what XNNPACK runs (ETN_XNNPACK_REFERENCE=1: convolutions,
// transposed convolutions, static int8 convolution / add / max pooling), and the
// float16 / bfloat16 conversions.
// Shapes are physical (row-major) and already validated by the caller.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace etn {
namespace xnnk {

using Shape = std::vector<size_t>;

size_t numelOf(const Shape& s);

// Data movement on elements of `elem` bytes (transpose: 1 or 4).
// out[i0..] = in[i_perm[0]..]: out dim k is in dim perm[k].
void transpose(const void* in, const Shape& inShape, const std::vector<size_t>& perm, void* out, size_t elem);
// out = in[offsets : offsets + outShape] (same rank).
void slice(const void* in, const Shape& inShape, const Shape& offsets, const Shape& outShape, void* out, size_t elem);
// Concatenates inputs (same rank, equal except on axis) into out.
void concat(const std::vector<const void*>& ins, const std::vector<Shape>& shapes, size_t axis, void* out,
            size_t elem);
// Constant padding: out dim d = pre[d] + in[d] + post[d].
void constantPad(const float* in, const Shape& inShape, const Shape& pre, const Shape& outShape, float value,
                 float* out);

enum class Unary : uint8_t {
  Abs, Negate, Square, Sqrt, Rsqrt, Floor, Ceil, Exp, Log, Sin, Cos, Tanh, Sigmoid, Gelu, Hardswish,
  LeakyRelu, Elu, Clamp, Copy,
};
// alpha: LeakyReLU slope / ELU alpha; lo/hi: Clamp bounds.
void unary(Unary op, const float* in, float* out, size_t n, float alpha = 0.f, float lo = 0.f, float hi = 0.f);

enum class Binary : uint8_t { Add, Sub, Mul, Div, Min, Max, PRelu };
// Numpy broadcasting; outShape has the larger rank. Results are clamped to [lo, hi]
// for Add/Sub/Mul/Div (pass +-inf for none).
void binary(Binary op, const float* a, const Shape& aShape, const float* b, const Shape& bShape, float* out,
            const Shape& outShape, float lo, float hi);

// out[m][n] = sum_k x[m][k] * w[n][k] (+ bias[n]), clamped; w is [N][K], or [K][N] when wTransposed.
void fullyConnected(const float* x, const float* w, const float* bias, float* out, size_t m, size_t k, size_t n,
                    bool wTransposed, float lo, float hi);
// Batched a[.., M, K] x b[.., K, N] (b[.., N, K] when bTransposed) with broadcast batch dims.
void batchMatmul(const float* a, const Shape& aShape, const float* b, const Shape& bShape, float* out,
                 const Shape& outShape, bool bTransposed);

struct Conv2dParams {
  size_t pt = 0, pl = 0, kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  size_t groups = 1, gic = 1, goc = 1;  // depthwise: groups = input channels, goc = depth multiplier
  bool depthwise = false;
};
// NHWC convolution. Filter [groups*goc, kh, kw, gic], or [1, kh, kw, groups*goc] when depthwise.
void conv2dNhwc(const float* in, size_t n, size_t h, size_t w, const float* filter, const float* bias,
                const Conv2dParams& p, float* out, size_t oh, size_t ow, float lo, float hi);
// NHWC max / average pooling (the average excludes padding, as XNNPACK does).
void pool2dNhwc(bool isMax, const float* in, size_t n, size_t h, size_t w, size_t c, const Conv2dParams& p,
                float* out, size_t oh, size_t ow, float lo, float hi);
// [n, hw, c] -> [n, c] mean over hw, clamped.
void globalAvgPool(const float* in, size_t n, size_t hw, size_t c, float* out, float lo, float hi);
// Softmax over the last dim of [rows, channels].
void softmax(const float* in, size_t rows, size_t channels, float* out);

// NHWC transposed convolution (XNNPACK's deconvolution): filter [groups*goc, kh, kw, gic];
// p.pt / p.pl are the paddings cropped from the output's top / left.
void deconv2dNhwc(const float* in, size_t n, size_t h, size_t w, const float* filter, const float* bias,
                  const Conv2dParams& p, float* out, size_t oh, size_t ow, float lo, float hi);

// float16 / bfloat16 values are held as float32: rounding to their precision (nearest
// even), and the conversions at the delegate's boundary.
void roundToFp16(float* x, size_t n);
void roundToBf16(float* x, size_t n);
void fp16ToFloat(const uint16_t* in, float* out, size_t n);
void bf16ToFloatArray(const uint16_t* in, float* out, size_t n);
void floatToFp16(const float* in, uint16_t* out, size_t n);
void floatToBf16Array(const float* in, uint16_t* out, size_t n);

// Static int8 (qint8 values, per-tensor or per-output-channel filter scales).
struct QConvParams {
  int32_t izp = 0, ozp = 0;
  int8_t qmin = -128, qmax = 127;
  const float* scale = nullptr;  // per output channel: input_scale * filter_scale[oc] / output_scale
};
// NHWC int8 convolution with XNNPACK's fp32 requantization (filter layouts as conv2dNhwc;
// a fully connected layer is the 1x1 case).
void conv2dQs8(const int8_t* in, size_t n, size_t h, size_t w, const int8_t* filter, const int32_t* bias,
               const Conv2dParams& p, const QConvParams& q, int8_t* out, size_t oh, size_t ow);
// int8 addition in XNNPACK's fixed point (qs8 vadd: 20-bit multipliers, one shift).
struct QAddParams {
  int32_t aMultiplier = 0, bMultiplier = 0, bias = 0, ozp = 0;
  int shift = 0;
  int8_t qmin = -128, qmax = 127;
};
// False when a scale ratio is outside [2^-10, 2^8), which XNNPACK refuses.
bool qs8AddParams(float aScale, int32_t aZp, float bScale, int32_t bZp, float outScale, int32_t outZp, int8_t qmin,
                  int8_t qmax, QAddParams* out);
void addQs8(const int8_t* a, const Shape& aShape, const int8_t* b, const Shape& bShape, int8_t* out,
            const Shape& outShape, const QAddParams& q);
// [n, hw, c] int8 -> [n, c] int8 mean over hw: int32 sums of (x - izp), times
// inScale / (outScale * hw) in float, rounded to nearest even, plus ozp, clamped.
void globalAvgPoolS8(const int8_t* in, size_t n, size_t hw, size_t c, float inScale, int32_t izp, float outScale,
                     int32_t ozp, int8_t qmin, int8_t qmax, int8_t* out);
// NHWC int8 max pooling (same quantization in and out), clamped to [qmin, qmax].
void maxPool2dS8(const int8_t* in, size_t n, size_t h, size_t w, size_t c, const Conv2dParams& p, int8_t* out,
                 size_t oh, size_t ow, int8_t qmin, int8_t qmax);

}  // namespace xnnk
}  // namespace etn
