// View-like copies: view_copy, permute_copy, expand_copy, unsqueeze_copy,
// squeeze_copy (three overloads), t_copy and transpose_copy. The output is a
// fresh tensor of the same dtype; values are moved element by element through
// strides, so any dim order on either side is honoured.
#include <cstdint>
#include <cstring>
#include <vector>

#include "../kernel_util.h"

namespace etn {
namespace {

void requireData(const KernelArgs& args, const Tensor& t, const char* what) {
  if (t.numel() > 0 && t.data() == nullptr)
    args.fail(ErrorCode::Internal, what, " ", t.describe(), " has no data buffer");
}

template <size_t N>
inline void moveBytes(char* d, const char* s) {
  std::memcpy(d, s, N);
}

// dst (logical order through its strides) <- src at srcStrides (one per dst dim).
void gatherCopy(const KernelArgs& args, const Tensor& src, const std::vector<int64_t>& srcStrides,
                Tensor& dst) {
  requireSameDtype(args, src, dst, "input and output");
  requireData(args, src, "input");
  requireData(args, dst, "output");
  if (dst.numel() == 0) return;
  const int64_t es = static_cast<int64_t>(dst.elementSize());
  const char* s = static_cast<const char*>(src.data());
  char* d = static_cast<char*>(dst.data());
  auto run = [&](auto mover) {
    forEachIndex2(dst.sizes(), srcStrides, dst.strides(),
                  [&](int64_t, int64_t so, int64_t doff) { mover(d + doff * es, s + so * es); });
  };
  switch (es) {
    case 1: run(moveBytes<1>); break;
    case 2: run(moveBytes<2>); break;
    case 4: run(moveBytes<4>); break;
    case 8: run(moveBytes<8>); break;
    default: args.fail(ErrorCode::NotSupported, "element size ", es);
  }
}

// Walks a tensor's elements in logical (row-major) order, giving each offset.
class LogicalCursor {
 public:
  explicit LogicalCursor(const Tensor& t)
      : sizes_(t.sizes()), strides_(t.strides()), idx_(t.sizes().size(), 0) {}
  int64_t offset() const { return off_; }
  void next() {
    for (size_t d = sizes_.size(); d-- > 0;) {
      if (++idx_[d] < sizes_[d]) {
        off_ += strides_[d];
        return;
      }
      off_ -= strides_[d] * (sizes_[d] - 1);
      idx_[d] = 0;
    }
  }

 private:
  const std::vector<int64_t>& sizes_;
  const std::vector<int64_t>& strides_;
  std::vector<int64_t> idx_;
  int64_t off_ = 0;
};

// Same elements in the same logical order, different shape (out already resized).
void reshapeCopy(const KernelArgs& args, const Tensor& src, Tensor& dst) {
  requireSameDtype(args, src, dst, "input and output");
  if (src.numel() != dst.numel())
    args.fail(ErrorCode::InvalidArgument, "cannot reshape ", src.describe(), " into ",
              dst.describe());
  requireData(args, src, "input");
  requireData(args, dst, "output");
  const int64_t n = dst.numel();
  if (n == 0) return;
  if (src.isContiguous() && dst.isContiguous()) {
    if (src.data() != dst.data()) std::memmove(dst.data(), src.data(), dst.nbytes());
    return;
  }
  const int64_t es = static_cast<int64_t>(dst.elementSize());
  const char* s = static_cast<const char*>(src.data());
  char* d = static_cast<char*>(dst.data());
  LogicalCursor cs(src), cd(dst);
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(d + cd.offset() * es, s + cs.offset() * es, static_cast<size_t>(es));
    cs.next();
    cd.next();
  }
}

void requireRank(const KernelArgs& args, const Tensor& out, size_t rank) {
  if (static_cast<size_t>(out.dim()) != rank)
    args.fail(ErrorCode::InvalidArgument, "output ", out.describe(), " should have rank ", rank);
}

// aten::view_copy.out(Tensor self, SymInt[] size, *, Tensor(a!) out)
void view_copy_out(KernelArgs& args) {
  args.expectCount(4);
  Tensor& self = args.tensor(0);
  std::vector<int64_t> size = args.intList(1);
  Tensor& out = args.tensor(2);
  int64_t inferred = -1;
  int64_t known = 1;
  for (size_t i = 0; i < size.size(); ++i) {
    if (size[i] == -1) {
      if (inferred >= 0) args.fail(ErrorCode::InvalidArgument, "only one dimension can be -1");
      inferred = static_cast<int64_t>(i);
    } else if (size[i] < 0) {
      args.fail(ErrorCode::InvalidArgument, "invalid size ", size[i], " in ", formatSizes(size));
    } else {
      if (size[i] > 0 && known > INT64_MAX / size[i])
        args.fail(ErrorCode::InvalidArgument, "shape ", formatSizes(size), " is too large");
      known *= size[i];
    }
  }
  if (inferred >= 0) {
    if (known == 0 || self.numel() % known != 0)
      args.fail(ErrorCode::InvalidArgument, "shape ", formatSizes(size), " is invalid for input ",
                self.describe());
    size[static_cast<size_t>(inferred)] = self.numel() / known;
  } else if (known != self.numel()) {
    args.fail(ErrorCode::InvalidArgument, "shape ", formatSizes(size), " is invalid for input ",
              self.describe());
  }
  requireRank(args, out, size.size());
  args.resizeOut(out, size);
  reshapeCopy(args, self, out);
}

// aten::permute_copy.out(Tensor self, int[] dims, *, Tensor(a!) out)
void permute_copy_out(KernelArgs& args) {
  args.expectCount(4);
  Tensor& self = args.tensor(0);
  const std::vector<int64_t> dims = args.intList(1);
  Tensor& out = args.tensor(2);
  const int64_t rank = self.dim();
  if (static_cast<int64_t>(dims.size()) != rank)
    args.fail(ErrorCode::InvalidArgument, "dims ", formatSizes(dims), " do not match rank ", rank);
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  std::vector<int64_t> sizes(dims.size()), strides(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    const int64_t d = normalizeDim(args, dims[i], rank);
    if (seen[static_cast<size_t>(d)])
      args.fail(ErrorCode::InvalidArgument, "dims ", formatSizes(dims), " repeat dim ", d);
    seen[static_cast<size_t>(d)] = true;
    sizes[i] = self.size(d);
    strides[i] = self.strides()[static_cast<size_t>(d)];
  }
  requireRank(args, out, sizes.size());
  args.resizeOut(out, sizes);
  gatherCopy(args, self, strides, out);
}

// aten::expand_copy.out(Tensor self, SymInt[] size, *, bool implicit=False, Tensor(a!) out)
void expand_copy_out(KernelArgs& args) {
  args.expectCount(5);
  Tensor& self = args.tensor(0);
  const std::vector<int64_t> size = args.intList(1);
  (void)args.toBool(2);
  Tensor& out = args.tensor(3);
  const size_t rank = static_cast<size_t>(self.dim());
  if (size.size() < rank)
    args.fail(ErrorCode::InvalidArgument, "size ", formatSizes(size),
              " has fewer dims than input ", self.describe());
  const size_t lead = size.size() - rank;
  std::vector<int64_t> sizes(size.size()), strides(size.size(), 0);
  for (size_t i = 0; i < size.size(); ++i) {
    if (i < lead) {
      if (size[i] < 0)
        args.fail(ErrorCode::InvalidArgument, "size ", formatSizes(size),
                  ": new leading dims cannot be ", size[i]);
      sizes[i] = size[i];
      continue;
    }
    const int64_t have = self.sizes()[i - lead];
    const int64_t want = size[i] == -1 ? have : size[i];
    if (want < 0)
      args.fail(ErrorCode::InvalidArgument, "invalid size ", size[i], " in ", formatSizes(size));
    if (have != want && have != 1)
      args.fail(ErrorCode::InvalidArgument, "cannot expand ", self.describe(), " to ",
                formatSizes(size), " (dim ", i, ")");
    sizes[i] = want;
    strides[i] = have == want ? self.strides()[i - lead] : 0;
  }
  requireRank(args, out, sizes.size());
  args.resizeOut(out, sizes);
  gatherCopy(args, self, strides, out);
}

// aten::unsqueeze_copy.out(Tensor self, int dim, *, Tensor(a!) out)
void unsqueeze_copy_out(KernelArgs& args) {
  args.expectCount(4);
  Tensor& self = args.tensor(0);
  const int64_t dim = normalizeDim(args, args.toInt(1), self.dim() + 1);
  Tensor& out = args.tensor(2);
  std::vector<int64_t> sizes = self.sizes();
  sizes.insert(sizes.begin() + dim, 1);
  requireRank(args, out, sizes.size());
  args.resizeOut(out, sizes);
  reshapeCopy(args, self, out);
}

void squeezeDims(KernelArgs& args, const Tensor& self, const std::vector<bool>& drop, Tensor& out) {
  std::vector<int64_t> sizes;
  for (size_t d = 0; d < self.sizes().size(); ++d)
    if (!drop[d]) sizes.push_back(self.sizes()[d]);
  // An output of rank 0 is expected when everything was squeezed; a program
  // may also keep an out tensor of the input rank when nothing is squeezed.
  requireRank(args, out, sizes.size());
  args.resizeOut(out, sizes);
  reshapeCopy(args, self, out);
}

// aten::squeeze_copy.dims_out(Tensor self, int[] dim, *, Tensor(a!) out)
void squeeze_copy_dims_out(KernelArgs& args) {
  args.expectCount(4);
  Tensor& self = args.tensor(0);
  const std::vector<int64_t> dims = args.intList(1);
  Tensor& out = args.tensor(2);
  std::vector<bool> drop(self.sizes().size(), false);
  for (int64_t d : dims) {
    const int64_t nd = normalizeDim(args, d, self.dim());
    if (self.dim() > 0 && self.size(nd) == 1) drop[static_cast<size_t>(nd)] = true;
  }
  squeezeDims(args, self, drop, out);
}

// aten::squeeze_copy.dim_out(Tensor self, int dim, *, Tensor(a!) out)
void squeeze_copy_dim_out(KernelArgs& args) {
  args.expectCount(4);
  Tensor& self = args.tensor(0);
  const int64_t nd = normalizeDim(args, args.toInt(1), self.dim());
  Tensor& out = args.tensor(2);
  std::vector<bool> drop(self.sizes().size(), false);
  if (self.dim() > 0 && self.size(nd) == 1) drop[static_cast<size_t>(nd)] = true;
  squeezeDims(args, self, drop, out);
}

// aten::squeeze_copy.out(Tensor self, *, Tensor(a!) out)
void squeeze_copy_out(KernelArgs& args) {
  args.expectCount(3);
  Tensor& self = args.tensor(0);
  Tensor& out = args.tensor(1);
  std::vector<bool> drop(self.sizes().size(), false);
  for (size_t d = 0; d < drop.size(); ++d) drop[d] = self.sizes()[d] == 1;
  squeezeDims(args, self, drop, out);
}

void transposeInto(KernelArgs& args, const Tensor& self, int64_t d0, int64_t d1, Tensor& out) {
  std::vector<int64_t> sizes = self.sizes();
  std::vector<int64_t> strides = self.strides();
  if (self.dim() > 0) {
    std::swap(sizes[static_cast<size_t>(d0)], sizes[static_cast<size_t>(d1)]);
    std::swap(strides[static_cast<size_t>(d0)], strides[static_cast<size_t>(d1)]);
  }
  requireRank(args, out, sizes.size());
  args.resizeOut(out, sizes);
  gatherCopy(args, self, strides, out);
}

// aten::transpose_copy.int_out(Tensor self, int dim0, int dim1, *, Tensor(a!) out)
void transpose_copy_int_out(KernelArgs& args) {
  args.expectCount(5);
  Tensor& self = args.tensor(0);
  const int64_t d0 = normalizeDim(args, args.toInt(1), self.dim());
  const int64_t d1 = normalizeDim(args, args.toInt(2), self.dim());
  Tensor& out = args.tensor(3);
  transposeInto(args, self, d0, d1, out);
}

// aten::t_copy.out(Tensor self, *, Tensor(a!) out)
void t_copy_out(KernelArgs& args) {
  args.expectCount(3);
  Tensor& self = args.tensor(0);
  Tensor& out = args.tensor(1);
  if (self.dim() > 2)
    args.fail(ErrorCode::InvalidArgument, "expects a tensor of rank <= 2, got ", self.describe());
  if (self.dim() < 2)
    transposeInto(args, self, 0, 0, out);
  else
    transposeInto(args, self, 0, 1, out);
}

ETN_REGISTER_KERNEL("aten::view_copy.out", view_copy_out);
ETN_REGISTER_KERNEL("aten::permute_copy.out", permute_copy_out);
ETN_REGISTER_KERNEL("aten::expand_copy.out", expand_copy_out);
ETN_REGISTER_KERNEL("aten::unsqueeze_copy.out", unsqueeze_copy_out);
ETN_REGISTER_KERNEL("aten::squeeze_copy.dims_out", squeeze_copy_dims_out);
ETN_REGISTER_KERNEL("aten::squeeze_copy.dim_out", squeeze_copy_dim_out);
ETN_REGISTER_KERNEL("aten::squeeze_copy.out", squeeze_copy_out);
ETN_REGISTER_KERNEL("aten::transpose_copy.int_out", transpose_copy_int_out);
ETN_REGISTER_KERNEL("aten::t_copy.out", t_copy_out);

}  // namespace
}  // namespace etn
