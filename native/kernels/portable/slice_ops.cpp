// Slicing and joining along one dim: select_copy, slice_copy, cat,
// split_with_sizes_copy and split_copy. Blocks are moved through strides on
// both sides, so any dim order works.
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

// Copies a block of `sizes` elements: src at srcBase + sum(i*srcStrides) into
// dst at dstBase + sum(i*dstStrides), converting dtype when they differ.
void blockCopy(const KernelArgs& args, const Tensor& src, int64_t srcBase,
               const std::vector<int64_t>& srcStrides, Tensor& dst, int64_t dstBase,
               const std::vector<int64_t>& dstStrides, const std::vector<int64_t>& sizes) {
  int64_t n = 1;
  for (int64_t s : sizes) n *= s;
  if (n == 0) return;
  requireData(args, src, "input");
  requireData(args, dst, "output");
  const ScalarType st = src.dtype(), dt = dst.dtype();
  const char* s = static_cast<const char*>(src.data());
  char* d = static_cast<char*>(dst.data());
  if (st == dt) {
    const int64_t es = static_cast<int64_t>(elementSize(st));
    s += srcBase * es;
    d += dstBase * es;
    switch (es) {
      case 1:
        forEachIndex2(sizes, srcStrides, dstStrides, [&](int64_t, int64_t a, int64_t b) {
          std::memcpy(d + b, s + a, 1);
        });
        break;
      case 2:
        forEachIndex2(sizes, srcStrides, dstStrides, [&](int64_t, int64_t a, int64_t b) {
          std::memcpy(d + b * 2, s + a * 2, 2);
        });
        break;
      case 4:
        forEachIndex2(sizes, srcStrides, dstStrides, [&](int64_t, int64_t a, int64_t b) {
          std::memcpy(d + b * 4, s + a * 4, 4);
        });
        break;
      case 8:
        forEachIndex2(sizes, srcStrides, dstStrides, [&](int64_t, int64_t a, int64_t b) {
          std::memcpy(d + b * 8, s + a * 8, 8);
        });
        break;
      default:
        args.fail(ErrorCode::NotSupported, "element size ", es);
    }
    return;
  }
  checkLoadable(args, src, "input");
  checkLoadable(args, dst, "output");
  const bool ints = isIntegralType(st, true) && isIntegralType(dt, true);
  forEachIndex2(sizes, srcStrides, dstStrides, [&](int64_t, int64_t a, int64_t b) {
    if (ints)
      storeInt(d, dt, dstBase + b, loadInt(s, st, srcBase + a));
    else
      storeDouble(d, dt, dstBase + b, loadDouble(s, st, srcBase + a));
  });
}

void requireRank(const KernelArgs& args, const Tensor& out, size_t rank) {
  if (static_cast<size_t>(out.dim()) != rank)
    args.fail(ErrorCode::InvalidArgument, "output ", out.describe(), " should have rank ", rank);
}

// aten::select_copy.int_out(Tensor self, int dim, SymInt index, *, Tensor(a!) out)
void select_copy_int_out(KernelArgs& args) {
  args.expectCount(5);
  Tensor& self = args.tensor(0);
  Tensor& out = args.tensor(3);
  if (self.dim() == 0)
    args.fail(ErrorCode::InvalidArgument, "cannot select from a 0-dim tensor");
  const int64_t dim = normalizeDim(args, args.toInt(1), self.dim());
  const int64_t size = self.size(dim);
  int64_t index = args.toInt(2);
  if (index < -size || index >= size)
    args.fail(ErrorCode::InvalidArgument, "index ", index, " out of range for dim ", dim,
              " of size ", size);
  if (index < 0) index += size;
  requireSameDtype(args, self, out, "input and output");
  std::vector<int64_t> sizes, strides;
  for (int64_t d = 0; d < self.dim(); ++d) {
    if (d == dim) continue;
    sizes.push_back(self.size(d));
    strides.push_back(self.strides()[static_cast<size_t>(d)]);
  }
  requireRank(args, out, sizes.size());
  args.resizeOut(out, sizes);
  blockCopy(args, self, index * self.strides()[static_cast<size_t>(dim)], strides, out, 0,
            out.strides(), sizes);
}

// aten::slice_copy.Tensor_out(Tensor self, int dim=0, SymInt? start=None, SymInt? end=None,
//                             SymInt step=1, *, Tensor(a!) out)
void slice_copy_tensor_out(KernelArgs& args) {
  args.expectCount(7);
  Tensor& self = args.tensor(0);
  Tensor& out = args.tensor(5);
  if (self.dim() == 0) args.fail(ErrorCode::InvalidArgument, "cannot slice a 0-dim tensor");
  const int64_t dim = normalizeDim(args, args.toInt(1), self.dim());
  const int64_t size = self.size(dim);
  const std::optional<int64_t> startArg = args.optInt(2);
  const std::optional<int64_t> endArg = args.optInt(3);
  const int64_t step = args.toInt(4);
  if (step <= 0) args.fail(ErrorCode::InvalidArgument, "slice step must be positive, got ", step);
  // Python slicing: negative bounds count from the end, then clamp to [0, size].
  auto clampBound = [&](int64_t v) {
    if (v < 0) v = v < -size ? 0 : v + size;
    return v > size ? size : v;
  };
  const int64_t start = startArg ? clampBound(*startArg) : 0;
  int64_t end = endArg ? clampBound(*endArg) : size;
  if (end < start) end = start;
  const int64_t len = end == start ? 0 : 1 + (end - start - 1) / step;
  requireSameDtype(args, self, out, "input and output");
  std::vector<int64_t> sizes = self.sizes();
  std::vector<int64_t> strides = self.strides();
  sizes[static_cast<size_t>(dim)] = len;
  strides[static_cast<size_t>(dim)] *= step;
  requireRank(args, out, sizes.size());
  args.resizeOut(out, sizes);
  blockCopy(args, self, start * self.strides()[static_cast<size_t>(dim)], strides, out, 0,
            out.strides(), sizes);
}

// aten::cat.out(Tensor[] tensors, int dim=0, *, Tensor(a!) out)
void cat_out(KernelArgs& args) {
  args.expectCount(4);
  const std::vector<Tensor*> tensors = args.tensorList(0);
  const int64_t dimArg = args.toInt(1);
  Tensor& out = args.tensor(2);
  if (tensors.empty()) args.fail(ErrorCode::InvalidArgument, "expects a non-empty tensor list");
  // Legacy behaviour: 1-D empty tensors are skipped whatever the other shapes.
  auto skipped = [](const Tensor* t) { return t->dim() == 1 && t->size(0) == 0; };
  const Tensor* ref = nullptr;
  for (const Tensor* t : tensors)
    if (!skipped(t)) {
      ref = t;
      break;
    }
  if (ref == nullptr) {
    requireRank(args, out, 1);
    args.resizeOut(out, {0});
    return;
  }
  const int64_t rank = ref->dim();
  if (rank == 0) args.fail(ErrorCode::InvalidArgument, "zero-dimensional tensors cannot be concatenated");
  const int64_t dim = normalizeDim(args, dimArg, rank);
  std::vector<int64_t> sizes = ref->sizes();
  int64_t total = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor* t = tensors[i];
    if (skipped(t)) continue;
    if (t->dim() != rank)
      args.fail(ErrorCode::InvalidArgument, "tensor ", i, " ", t->describe(),
                " has a different rank from ", ref->describe());
    for (int64_t d = 0; d < rank; ++d)
      if (d != dim && t->size(d) != ref->size(d))
        args.fail(ErrorCode::InvalidArgument, "tensor ", i, " ", t->describe(),
                  " does not match ", ref->describe(), " outside dim ", dim);
    if (t->dtype() != out.dtype()) checkLoadable(args, *t, "input");
    total += t->size(dim);
  }
  sizes[static_cast<size_t>(dim)] = total;
  requireRank(args, out, sizes.size());
  args.resizeOut(out, sizes);
  int64_t at = 0;
  const int64_t outStride = out.strides()[static_cast<size_t>(dim)];
  for (const Tensor* t : tensors) {
    if (skipped(t)) continue;
    blockCopy(args, *t, 0, t->strides(), out, at * outStride, out.strides(), t->sizes());
    at += t->size(dim);
  }
}

// Writes consecutive chunks of self along dim into outs.
void splitInto(KernelArgs& args, const Tensor& self, int64_t dim,
               const std::vector<int64_t>& chunks, const std::vector<Tensor*>& outs) {
  if (chunks.size() != outs.size())
    args.fail(ErrorCode::InvalidArgument, "expects ", chunks.size(), " outputs, got ",
              outs.size());
  int64_t at = 0;
  const int64_t inStride = self.strides()[static_cast<size_t>(dim)];
  for (size_t i = 0; i < outs.size(); ++i) {
    Tensor& out = *outs[i];
    requireSameDtype(args, self, out, "input and output");
    std::vector<int64_t> sizes = self.sizes();
    sizes[static_cast<size_t>(dim)] = chunks[i];
    requireRank(args, out, sizes.size());
    args.resizeOut(out, sizes);
    blockCopy(args, self, at * inStride, self.strides(), out, 0, out.strides(), sizes);
    at += chunks[i];
  }
}

// aten::split_with_sizes_copy.out(Tensor self, SymInt[] split_sizes, int dim=0, *,
//                                 Tensor(a!)[] out) -> ()
void split_with_sizes_copy_out(KernelArgs& args) {
  if (args.size() != 4 && args.size() != 5) args.expectCount(4);
  Tensor& self = args.tensor(0);
  const std::vector<int64_t> splits = args.intList(1);
  if (self.dim() == 0) args.fail(ErrorCode::InvalidArgument, "cannot split a 0-dim tensor");
  const int64_t dim = normalizeDim(args, args.toInt(2), self.dim());
  const std::vector<Tensor*> outs = args.tensorList(3);
  int64_t sum = 0;
  for (int64_t s : splits) {
    if (s < 0) args.fail(ErrorCode::InvalidArgument, "negative split size ", s);
    sum += s;
  }
  if (sum != self.size(dim))
    args.fail(ErrorCode::InvalidArgument, "split sizes ", formatSizes(splits),
              " do not add up to ", self.size(dim), " (dim ", dim, " of ", self.describe(), ")");
  splitInto(args, self, dim, splits, outs);
}

// aten::split_copy.Tensor_out(Tensor self, SymInt split_size, int dim=0, *,
//                             Tensor(a!)[] out) -> ()
void split_copy_tensor_out(KernelArgs& args) {
  if (args.size() != 4 && args.size() != 5) args.expectCount(4);
  Tensor& self = args.tensor(0);
  const int64_t splitSize = args.toInt(1);
  if (self.dim() == 0) args.fail(ErrorCode::InvalidArgument, "cannot split a 0-dim tensor");
  const int64_t dim = normalizeDim(args, args.toInt(2), self.dim());
  const std::vector<Tensor*> outs = args.tensorList(3);
  const int64_t size = self.size(dim);
  if (splitSize < 0 || (splitSize == 0 && size != 0))
    args.fail(ErrorCode::InvalidArgument, "invalid split size ", splitSize, " for dim of size ",
              size);
  std::vector<int64_t> chunks;
  if (size == 0) {
    chunks.push_back(0);
  } else {
    for (int64_t at = 0; at < size; at += splitSize)
      chunks.push_back(splitSize < size - at ? splitSize : size - at);
  }
  splitInto(args, self, dim, chunks, outs);
}

ETN_REGISTER_KERNEL("aten::select_copy.int_out", select_copy_int_out);
ETN_REGISTER_KERNEL("aten::slice_copy.Tensor_out", slice_copy_tensor_out);
ETN_REGISTER_KERNEL("aten::cat.out", cat_out);
ETN_REGISTER_KERNEL("aten::split_with_sizes_copy.out", split_with_sizes_copy_out);
ETN_REGISTER_KERNEL("aten::split_copy.Tensor_out", split_copy_tensor_out);

}  // namespace
}  // namespace etn
