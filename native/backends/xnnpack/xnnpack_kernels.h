// Our own f32 loops for the XNNPACK delegate: the data-movement nodes (transpose,
// slice, concatenate, pad), the math Debian's 2022 XNNPACK operator API lacks
// (tanh, exp, log, sin, cos, gelu, rsqrt, batch matmul, prelu) and fallbacks
// (broadcasting binary ops above XNNPACK's 6 dims, FC with a runtime filter).
// Shapes are physical (row-major) and already validated by the caller.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace etn {
namespace xnnk {

using Shape = std::vector<size_t>;

size_t numelOf(const Shape& s);

// out[i0..] = in[i_perm[0]..]: out dim k is in dim perm[k].
void transpose(const float* in, const Shape& inShape, const std::vector<size_t>& perm, float* out);
// out = in[offsets : offsets + outShape] (same rank).
void slice(const float* in, const Shape& inShape, const Shape& offsets, const Shape& outShape, float* out);
// Concatenates inputs (same rank, equal except on axis) into out.
void concat(const std::vector<const float*>& ins, const std::vector<Shape>& shapes, size_t axis, float* out);
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

}  // namespace xnnk
}  // namespace etn
