// Shape propagation: each call's output shape of a node from its inputs' shapes
// (physical, i.e. permuted by the dim order). Shapes that do not fit raise
// InvalidArgument: they come from the caller's inputs.
#include <algorithm>
#include <string>

#include "../../runtime/error.h"
#include "xnnpack_delegate.h"

namespace etn {
namespace xnnpack {
namespace {

// Numpy broadcasting of the leading xr dims of x with the leading yr dims of y
// into *out; false when they do not broadcast.
bool broadcast(const Shape& x, size_t xr, const Shape& y, size_t yr, Shape* out) {
  const size_t r = std::max(xr, yr);
  out->assign(r, 1);
  for (size_t k = 0; k < r; ++k) {
    const size_t dx = k + xr >= r ? x[k + xr - r] : 1;
    const size_t dy = k + yr >= r ? y[k + yr - r] : 1;
    if (dx == dy || dy == 1) (*out)[k] = dx;
    else if (dx == 1) (*out)[k] = dy;
    else return false;
  }
  return true;
}

}  // namespace

Shape XnnpackDelegate::inferShape(const Node& n) {
  auto bad = [&](const std::string& msg) -> void {
    fail(ErrorCode::InvalidArgument, "XnnpackBackend: node ", n.index, " ", n.name, ": ", msg, where_);
  };
  const Shape& x = values_[n.in[0]].shape;
  auto requireRank = [&](size_t rank) {
    if (x.size() != rank) bad("input " + shapeStr(x) + " does not have " + std::to_string(rank) + " dims");
  };
  auto require4d = [&] {
    if (x.size() != 4) bad("input " + shapeStr(x) + " is not 4-D (NHWC)");
  };
  Shape out;
  switch (n.op) {
    case Op::Binary:
    case Op::QAdd:
    case Op::PRelu: {
      const Shape& y = values_[n.in[1]].shape;
      if (!broadcast(x, x.size(), y, y.size(), &out))
        bad("shapes " + shapeStr(x) + " and " + shapeStr(y) + " do not broadcast");
      if (n.op == Op::PRelu && out != x) bad("slope " + shapeStr(y) + " does not broadcast to " + shapeStr(x));
      return out;
    }
    case Op::XnnUnary:
    case Op::OwnUnary:
    case Op::Softmax:
    case Op::Quantize:
    case Op::Dequantize:
    case Op::DynamicQuantize:
      return x;
    case Op::FullyConnected:
    case Op::QFullyConnected:
    case Op::QD8FullyConnected:
    case Op::F32QC8WFullyConnected: {
      if (x.empty() || x.back() != n.ic)
        bad("input " + shapeStr(x) + " does not end in " + std::to_string(n.ic) + " input channels");
      out = x;
      out.back() = n.oc;
      return out;
    }
    case Op::Conv2d:
    case Op::QConv2d:
    case Op::MaxPool2d:
    case Op::QMaxPool2d:
    case Op::AvgPool2d: {
      require4d();
      const size_t C = x[3];
      const bool conv = n.op == Op::Conv2d || n.op == Op::QConv2d;
      if (conv && C != n.groups * n.gic)
        bad("input " + shapeStr(x) + " has " + std::to_string(C) + " channels, expected " +
            std::to_string(n.groups * n.gic));
      const uint64_t ph = uint64_t(x[1]) + n.pt + n.pb, pw = uint64_t(x[2]) + n.pl + n.pr;
      const uint64_t ekh = uint64_t(n.kh - 1) * n.dh + 1, ekw = uint64_t(n.kw - 1) * n.dw + 1;
      if (ph < ekh || pw < ekw)
        bad("input " + shapeStr(x) + " is smaller than the " + std::to_string(ekh) + "x" + std::to_string(ekw) +
            " window");
      out = {x[0], static_cast<size_t>((ph - ekh) / n.sh + 1), static_cast<size_t>((pw - ekw) / n.sw + 1),
             conv ? n.groups * n.goc : C};
      return out;
    }
    case Op::ConvTranspose2d: {
      require4d();
      if (x[3] != n.groups * n.gic)
        bad("input " + shapeStr(x) + " has " + std::to_string(x[3]) + " channels, expected " +
            std::to_string(n.groups * n.gic));
      // out = stride * (in - 1) + adjustment + dilation * (kernel - 1) + 1 - padding (PyTorch's formula).
      auto extent = [&](size_t in, uint32_t s, uint32_t adj, uint32_t d, uint32_t k, uint32_t p0, uint32_t p1,
                        const char* what) -> size_t {
        if (in == 0) return 0;
        const uint64_t full = uint64_t(s) * (in - 1) + adj + uint64_t(d) * (k - 1) + 1;
        if (full <= uint64_t(p0) + p1)
          bad(std::string("the ") + what + " padding (" + std::to_string(p0) + " + " + std::to_string(p1) +
              ") leaves no output for input " + shapeStr(x));
        return static_cast<size_t>(full - p0 - p1);
      };
      out = {x[0], extent(x[1], n.sh, n.adjH, n.dh, n.kh, n.pt, n.pb, "vertical"),
             extent(x[2], n.sw, n.adjW, n.dw, n.kw, n.pl, n.pr, "horizontal"), n.groups * n.goc};
      return out;
    }
    case Op::GlobalAvgPool2d:
    case Op::QGlobalAvgPool2d:
      require4d();
      if (n.keepDims) return {x[0], 1, 1, x[3]};
      return {x[0], x[3]};
    case Op::ResizeBilinear2d:
      require4d();
      return {x[0], n.newH, n.newW, x[3]};
    case Op::Transpose:
      requireRank(n.a.size());
      out.resize(x.size());
      for (size_t k = 0; k < x.size(); ++k) out[k] = x[n.a[k]];
      return out;
    case Op::Reshape: {
      const size_t total = values_[n.in[0]].numel;
      size_t known = 1, inferred = n.a.size();
      for (size_t k = 0; k < n.a.size(); ++k) {
        if (n.a[k] == 0) inferred = k;
        else known *= n.a[k];
      }
      out = n.a;
      if (inferred < n.a.size()) {
        if (known == 0 || total % known != 0) bad("cannot reshape " + shapeStr(x) + " to " + shapeStr(n.a));
        out[inferred] = total / known;
      } else if (known != total) {
        bad("cannot reshape " + shapeStr(x) + " (" + std::to_string(total) + " elements) to " + shapeStr(n.a));
      }
      return out;
    }
    case Op::Slice: {
      requireRank(n.a.size());
      out.resize(x.size());
      for (size_t k = 0; k < x.size(); ++k) {
        if (n.a[k] > x[k]) bad("offset " + std::to_string(n.a[k]) + " is outside input " + shapeStr(x));
        out[k] = n.b[k] == 0 ? x[k] - n.a[k] : n.b[k];
        if (out[k] > x[k] - n.a[k])
          bad("slice [" + std::to_string(n.a[k]) + ", +" + std::to_string(out[k]) + ") exceeds input " + shapeStr(x));
      }
      return out;
    }
    case Op::Concat: {
      if (n.axis >= x.size()) bad("axis " + std::to_string(n.axis) + " is outside input " + shapeStr(x));
      out = x;
      for (size_t j = 1; j < n.in.size(); ++j) {
        const Shape& y = values_[n.in[j]].shape;
        bool ok = y.size() == x.size();
        for (size_t k = 0; ok && k < x.size(); ++k) ok = k == n.axis || y[k] == x[k];
        if (!ok) bad("inputs " + shapeStr(x) + " and " + shapeStr(y) + " differ outside axis " + std::to_string(n.axis));
        out[n.axis] += y[n.axis];
      }
      return out;
    }
    case Op::Pad:
      requireRank(n.a.size());
      out.resize(x.size());
      for (size_t k = 0; k < x.size(); ++k) out[k] = n.a[k] + x[k] + n.b[k];
      return out;
    case Op::BatchMatmul: {
      const Shape& y = values_[n.in[1]].shape;
      if (x.size() < 2 || y.size() < 2) bad("inputs " + shapeStr(x) + " and " + shapeStr(y) + " are not matrices");
      const size_t M = x[x.size() - 2], K = x.back();
      const size_t Ky = n.transposedWeights ? y.back() : y[y.size() - 2];
      const size_t N = n.transposedWeights ? y[y.size() - 2] : y.back();
      if (K != Ky) bad("inner dimensions of " + shapeStr(x) + " and " + shapeStr(y) + " differ");
      if (!broadcast(x, x.size() - 2, y, y.size() - 2, &out))
        bad("batch dims of " + shapeStr(x) + " and " + shapeStr(y) + " do not broadcast");
      out.push_back(M);
      out.push_back(N);
      return out;
    }
  }
  return x;
}

}  // namespace xnnpack
}  // namespace etn
