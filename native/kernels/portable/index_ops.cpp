// Indexing ops: index.Tensor (advanced indexing), index_put, index_select,
// gather, scatter (value and src) and embedding. Every index value is checked
// against its dim before any element is read or written.
#include <cstring>
#include <vector>

#include "../kernel_util.h"

namespace etn {
namespace {

void requireData(const KernelArgs& args, const Tensor& t, const char* what) {
  if (t.numel() > 0 && t.data() == nullptr)
    args.fail(ErrorCode::Internal, what, " ", t.describe(), " has no data buffer");
}

void requireRank(const KernelArgs& args, const Tensor& out, size_t rank) {
  if (static_cast<size_t>(out.dim()) != rank)
    args.fail(ErrorCode::InvalidArgument, "output ", out.describe(), " should have rank ", rank);
}

void requireIndexDtype(const KernelArgs& args, const Tensor& t, const char* what) {
  if (t.dtype() != ScalarType::Long && t.dtype() != ScalarType::Int)
    args.fail(ErrorCode::InvalidArgument, what, " must be int64 or int32, got ",
              scalarTypeName(t.dtype()));
  requireData(args, t, what);
}

// Moves one element between tensors of possibly different dtypes.
inline void moveElem(const void* s, ScalarType st, int64_t so, void* d, ScalarType dt,
                     int64_t doff) {
  if (st == dt) {
    const int64_t es = static_cast<int64_t>(elementSize(st));
    std::memcpy(static_cast<char*>(d) + doff * es, static_cast<const char*>(s) + so * es,
                static_cast<size_t>(es));
  } else if (isIntegralType(st, true) && isIntegralType(dt, true)) {
    storeInt(d, dt, doff, loadInt(s, st, so));
  } else {
    storeDouble(d, dt, doff, loadDouble(s, st, so));
  }
}

// dst <- src, same shape, any dim orders (dtype converted).
void copyAll(const KernelArgs& args, const Tensor& src, Tensor& dst) {
  requireData(args, src, "input");
  requireData(args, dst, "output");
  if (dst.numel() == 0) return;
  if (src.dtype() == dst.dtype() && src.strides() == dst.strides()) {
    if (src.data() != dst.data()) std::memmove(dst.data(), src.data(), dst.nbytes());
    return;
  }
  const void* s = src.data();
  void* d = dst.data();
  const ScalarType st = src.dtype(), dt = dst.dtype();
  forEachIndex2(dst.sizes(), src.strides(), dst.strides(),
                [&](int64_t, int64_t so, int64_t doff) { moveElem(s, st, so, d, dt, doff); });
}

// Checks an index value against a dim size; `wrap` allows negative (Python) indices.
inline int64_t checkIndex(const KernelArgs& args, int64_t v, int64_t size, int64_t dim,
                          bool wrap) {
  if (wrap && v < 0 && v >= -size) return v + size;
  if (v < 0 || v >= size)
    args.fail(ErrorCode::InvalidArgument, "index ", v, " is out of bounds for dim ", dim,
              " with size ", size);
  return v;
}

// ---------------------------------------------------------------------------
// Advanced indexing (index.Tensor / index_put)

struct IndexTensor {
  const void* data = nullptr;
  ScalarType dtype = ScalarType::Long;
  std::vector<int64_t> sizes, strides;
  std::vector<int64_t> owned;  // coordinates expanded from a bool mask
  int64_t dim = 0;             // the self dim it indexes
};

struct AdvancedIndex {
  std::vector<IndexTensor> idx;
  std::vector<int64_t> bshape;       // broadcast shape of all index tensors
  std::vector<int64_t> resultSizes;  // shape of self[indices]
  // Per result dim: the self dim it walks (or -1 for a broadcast dim), and the
  // broadcast dim it walks (or -1).
  std::vector<int64_t> resultSelfDim, resultBDim;
};

AdvancedIndex buildIndex(const KernelArgs& args, const Tensor& self,
                         const std::vector<Tensor*>& indices) {
  AdvancedIndex ai;
  const int64_t rank = self.dim();
  int64_t d = 0;
  for (size_t i = 0; i < indices.size(); ++i) {
    const Tensor* e = indices[i];
    if (e == nullptr) {
      ++d;
      continue;
    }
    if (e->dtype() == ScalarType::Bool || e->dtype() == ScalarType::Byte) {
      const int64_t k = e->dim();
      if (k == 0) args.fail(ErrorCode::NotSupported, "0-dim boolean index ", i);
      if (d + k > rank)
        args.fail(ErrorCode::InvalidArgument, "too many indices for tensor ", self.describe());
      for (int64_t j = 0; j < k; ++j)
        if (e->size(j) != self.size(d + j))
          args.fail(ErrorCode::InvalidArgument, "mask ", e->describe(), " (index ", i,
                    ") does not match the shape of ", self.describe(), " at dim ", d + j);
      requireData(args, *e, "mask");
      std::vector<std::vector<int64_t>> coords(static_cast<size_t>(k));
      const void* md = e->data();
      const ScalarType mt = e->dtype();
      const std::vector<int64_t>& ms = e->sizes();
      forEachElement(*e, [&](int64_t lin, int64_t off) {
        if (loadInt(md, mt, off) == 0) return;
        int64_t rest = lin;
        for (int64_t j = k; j-- > 0;) {
          coords[static_cast<size_t>(j)].push_back(rest % ms[static_cast<size_t>(j)]);
          rest /= ms[static_cast<size_t>(j)];
        }
      });
      for (int64_t j = 0; j < k; ++j) {
        IndexTensor it;
        it.owned = std::move(coords[static_cast<size_t>(j)]);
        it.sizes = {static_cast<int64_t>(it.owned.size())};
        it.strides = {1};
        it.dim = d + j;
        ai.idx.push_back(std::move(it));
      }
      d += k;
      continue;
    }
    if (e->dtype() != ScalarType::Long && e->dtype() != ScalarType::Int)
      args.fail(ErrorCode::InvalidArgument, "index ", i, " has dtype ", scalarTypeName(e->dtype()),
                "; indices must be int64, int32, uint8 or bool");
    if (d >= rank)
      args.fail(ErrorCode::InvalidArgument, "too many indices for tensor ", self.describe());
    requireData(args, *e, "index");
    IndexTensor it;
    it.data = e->data();
    it.dtype = e->dtype();
    it.sizes = e->sizes();
    it.strides = e->strides();
    it.dim = d;
    ai.idx.push_back(std::move(it));
    ++d;
  }
  if (d > rank)
    args.fail(ErrorCode::InvalidArgument, "too many indices for tensor ", self.describe());
  for (IndexTensor& it : ai.idx) {
    if (!it.owned.empty() || it.data == nullptr) it.data = it.owned.data();
    ai.bshape = broadcastShapes(args, ai.bshape, it.sizes);
  }
  bool adjacent = true;
  for (size_t k = 1; k < ai.idx.size(); ++k)
    if (ai.idx[k].dim != ai.idx[k - 1].dim + 1) adjacent = false;
  std::vector<bool> indexed(static_cast<size_t>(rank), false);
  for (const IndexTensor& it : ai.idx) indexed[static_cast<size_t>(it.dim)] = true;
  const int64_t first = ai.idx.empty() ? 0 : ai.idx.front().dim;
  auto pushB = [&]() {
    for (size_t j = 0; j < ai.bshape.size(); ++j) {
      ai.resultSizes.push_back(ai.bshape[j]);
      ai.resultSelfDim.push_back(-1);
      ai.resultBDim.push_back(static_cast<int64_t>(j));
    }
  };
  if (!adjacent) pushB();
  for (int64_t sd = 0; sd < rank; ++sd) {
    if (adjacent && sd == first && !ai.idx.empty()) pushB();
    if (indexed[static_cast<size_t>(sd)]) continue;
    ai.resultSizes.push_back(self.size(sd));
    ai.resultSelfDim.push_back(sd);
    ai.resultBDim.push_back(-1);
  }
  return ai;
}

// For each position of the broadcast shape (row-major), the element offset
// that the index tensors select in a tensor with `target`'s sizes and `strides`.
std::vector<int64_t> indexedOffsets(const KernelArgs& args, const AdvancedIndex& ai,
                                    const Tensor& target) {
  int64_t n = 1;
  for (int64_t s : ai.bshape) n *= s;
  std::vector<int64_t> table(static_cast<size_t>(n), 0);
  for (const IndexTensor& it : ai.idx) {
    // Broadcast strides of this index tensor within bshape.
    const size_t br = ai.bshape.size(), ir = it.sizes.size();
    std::vector<int64_t> bs(br, 0), zero(br, 0);
    for (size_t k = 0; k < ir; ++k)
      bs[br - ir + k] = it.sizes[k] == 1 ? 0 : it.strides[k];
    const int64_t size = target.size(it.dim);
    const int64_t stride = target.strides()[static_cast<size_t>(it.dim)];
    const int64_t* owned = it.owned.empty() ? nullptr : it.owned.data();
    forEachIndex2(ai.bshape, bs, zero, [&](int64_t lin, int64_t off, int64_t) {
      const int64_t raw = owned ? owned[off] : loadInt(it.data, it.dtype, off);
      table[static_cast<size_t>(lin)] += checkIndex(args, raw, size, it.dim, true) * stride;
    });
  }
  return table;
}

// Per-result-dim strides: one walking `target` on non-indexed dims, one
// walking the (contiguous) broadcast table.
void resultStrides(const AdvancedIndex& ai, const Tensor& target, std::vector<int64_t>& tStrides,
                   std::vector<int64_t>& bStrides) {
  std::vector<int64_t> bcontig(ai.bshape.size(), 1);
  for (size_t j = ai.bshape.size(); j-- > 1;) bcontig[j - 1] = bcontig[j] * ai.bshape[j];
  tStrides.assign(ai.resultSizes.size(), 0);
  bStrides.assign(ai.resultSizes.size(), 0);
  for (size_t r = 0; r < ai.resultSizes.size(); ++r) {
    if (ai.resultSelfDim[r] >= 0)
      tStrides[r] = target.strides()[static_cast<size_t>(ai.resultSelfDim[r])];
    else
      bStrides[r] = bcontig[static_cast<size_t>(ai.resultBDim[r])];
  }
}

// aten::index.Tensor_out(Tensor self, Tensor?[] indices, *, Tensor(a!) out)
void index_tensor_out(KernelArgs& args) {
  args.expectCount(4);
  Tensor& self = args.tensor(0);
  const std::vector<Tensor*> indices = args.optTensorList(1);
  Tensor& out = args.tensor(2);
  requireSameDtype(args, self, out, "input and output");
  const AdvancedIndex ai = buildIndex(args, self, indices);
  requireRank(args, out, ai.resultSizes.size());
  const std::vector<int64_t> table = indexedOffsets(args, ai, self);
  args.resizeOut(out, ai.resultSizes);
  if (out.numel() == 0) return;
  requireData(args, self, "input");
  requireData(args, out, "output");
  std::vector<int64_t> sStrides, bStrides;
  resultStrides(ai, self, sStrides, bStrides);
  const int64_t es = static_cast<int64_t>(self.elementSize());
  const char* s = static_cast<const char*>(self.data());
  char* d = static_cast<char*>(out.data());
  forEachIndex3(ai.resultSizes, sStrides, bStrides, out.strides(),
                [&](int64_t, int64_t so, int64_t b, int64_t doff) {
                  std::memcpy(d + doff * es, s + (so + table[static_cast<size_t>(b)]) * es,
                              static_cast<size_t>(es));
                });
}

// aten::index_put.out(Tensor self, Tensor?[] indices, Tensor values, bool accumulate=False, *,
//                     Tensor(a!) out)
void index_put_out(KernelArgs& args) {
  args.expectCount(6);
  Tensor& self = args.tensor(0);
  const std::vector<Tensor*> indices = args.optTensorList(1);
  Tensor& values = args.tensor(2);
  const bool accumulate = args.toBool(3);
  Tensor& out = args.tensor(4);
  requireSameDtype(args, self, out, "input and output");
  if (values.dtype() != out.dtype()) checkLoadable(args, values, "values");
  requireRank(args, out, static_cast<size_t>(self.dim()));
  const AdvancedIndex ai = buildIndex(args, self, indices);
  const std::vector<int64_t> b = broadcastShapes(args, ai.resultSizes, values.sizes());
  if (b != ai.resultSizes)
    args.fail(ErrorCode::InvalidArgument, "values ", values.describe(),
              " cannot be broadcast to the indexed shape ", formatSizes(ai.resultSizes));
  args.resizeOut(out, self.sizes());
  const std::vector<int64_t> table = indexedOffsets(args, ai, out);
  copyAll(args, self, out);
  int64_t n = 1;
  for (int64_t s : ai.resultSizes) n *= s;
  if (n == 0) return;
  requireData(args, values, "values");
  std::vector<int64_t> oStrides, bStrides;
  resultStrides(ai, out, oStrides, bStrides);
  const std::vector<int64_t> vStrides = broadcastStrides(values, ai.resultSizes);
  const void* v = values.data();
  void* d = out.data();
  const ScalarType vt = values.dtype(), ot = out.dtype();
  const bool ints = isIntegralType(ot, true) && isIntegralType(vt, true);
  // Walk (out-non-indexed offset, table slot, values offset) together.
  std::vector<int64_t> zero(ai.resultSizes.size(), 0);
  std::vector<int64_t> idx(ai.resultSizes.size(), 0);
  int64_t oo = 0, bo = 0, vo = 0;
  for (int64_t lin = 0; lin < n; ++lin) {
    const int64_t dst = oo + table[static_cast<size_t>(bo)];
    if (!accumulate) {
      moveElem(v, vt, vo, d, ot, dst);
    } else if (ot == ScalarType::Bool) {
      storeInt(d, ot, dst, (loadInt(d, ot, dst) != 0 || loadInt(v, vt, vo) != 0) ? 1 : 0);
    } else if (ints) {
      storeInt(d, ot, dst, loadInt(d, ot, dst) + loadInt(v, vt, vo));
    } else {
      storeDouble(d, ot, dst, loadDouble(d, ot, dst) + loadDouble(v, vt, vo));
    }
    for (size_t r = ai.resultSizes.size(); r-- > 0;) {
      if (++idx[r] < ai.resultSizes[r]) {
        oo += oStrides[r];
        bo += bStrides[r];
        vo += vStrides[r];
        break;
      }
      oo -= oStrides[r] * (ai.resultSizes[r] - 1);
      bo -= bStrides[r] * (ai.resultSizes[r] - 1);
      vo -= vStrides[r] * (ai.resultSizes[r] - 1);
      idx[r] = 0;
    }
  }
}

// ---------------------------------------------------------------------------

// aten::index_select.out(Tensor self, int dim, Tensor index, *, Tensor(a!) out)
void index_select_out(KernelArgs& args) {
  args.expectCount(5);
  Tensor& self = args.tensor(0);
  const int64_t dim = normalizeDim(args, args.toInt(1), self.dim());
  Tensor& index = args.tensor(2);
  Tensor& out = args.tensor(3);
  requireSameDtype(args, self, out, "input and output");
  requireIndexDtype(args, index, "index");
  if (index.dim() > 1)
    args.fail(ErrorCode::InvalidArgument, "index must be 0-D or 1-D, got ", index.describe());
  requireRank(args, out, static_cast<size_t>(self.dim()));
  // A 0-dim self behaves as a 1-element vector.
  std::vector<int64_t> sizes = self.sizes(), sStrides = self.strides();
  if (self.dim() == 0) {
    sizes = {1};
    sStrides = {1};
  }
  const int64_t dimSize = sizes[static_cast<size_t>(dim)];
  std::vector<int64_t> outSizes = sizes;
  outSizes[static_cast<size_t>(dim)] = index.numel();
  if (self.dim() == 0) {
    if (index.numel() != 1)
      args.fail(ErrorCode::InvalidArgument, "index of a 0-dim tensor must have one element");
    args.resizeOut(out, {});
  } else {
    args.resizeOut(out, outSizes);
  }
  std::vector<int64_t> picks;
  picks.reserve(static_cast<size_t>(index.numel()));
  forEachElement(index, [&](int64_t, int64_t off) {
    picks.push_back(checkIndex(args, loadInt(index.data(), index.dtype(), off), dimSize, dim,
                               false));
  });
  if (out.numel() == 0) return;
  requireData(args, self, "input");
  requireData(args, out, "output");
  std::vector<int64_t> oStrides = self.dim() == 0 ? std::vector<int64_t>{1} : out.strides();
  // Walk the output; the selected dim reads through the picks table.
  std::vector<int64_t> s2 = sStrides, b2(outSizes.size(), 0);
  s2[static_cast<size_t>(dim)] = 0;
  b2[static_cast<size_t>(dim)] = 1;
  const int64_t es = static_cast<int64_t>(self.elementSize());
  const int64_t dstride = sStrides[static_cast<size_t>(dim)];
  const char* s = static_cast<const char*>(self.data());
  char* d = static_cast<char*>(out.data());
  forEachIndex3(outSizes, s2, b2, oStrides, [&](int64_t, int64_t so, int64_t k, int64_t doff) {
    std::memcpy(d + doff * es, s + (so + picks[static_cast<size_t>(k)] * dstride) * es,
                static_cast<size_t>(es));
  });
}

// Shape and strides with a 0-dim tensor seen as [1].
void atLeast1d(const Tensor& t, std::vector<int64_t>& sizes, std::vector<int64_t>& strides) {
  sizes = t.sizes();
  strides = t.strides();
  if (sizes.empty()) {
    sizes = {1};
    strides = {1};
  }
}

// aten::gather.out(Tensor self, int dim, Tensor index, *, bool sparse_grad=False,
//                  Tensor(a!) out)
void gather_out(KernelArgs& args) {
  args.expectCount(6);
  Tensor& self = args.tensor(0);
  const int64_t dim = normalizeDim(args, args.toInt(1), self.dim());
  Tensor& index = args.tensor(2);
  (void)args.toBool(3);
  Tensor& out = args.tensor(4);
  requireSameDtype(args, self, out, "input and output");
  requireIndexDtype(args, index, "index");
  std::vector<int64_t> ss, sst, is, ist;
  atLeast1d(self, ss, sst);
  atLeast1d(index, is, ist);
  if (is.size() != ss.size())
    args.fail(ErrorCode::InvalidArgument, "index ", index.describe(),
              " must have the same rank as input ", self.describe());
  for (size_t d = 0; d < ss.size(); ++d)
    if (static_cast<int64_t>(d) != dim && is[d] > ss[d])
      args.fail(ErrorCode::InvalidArgument, "index ", index.describe(), " is larger than input ",
                self.describe(), " at dim ", d);
  requireRank(args, out, static_cast<size_t>(index.dim()));
  args.resizeOut(out, index.sizes());
  if (out.numel() == 0) return;
  requireData(args, self, "input");
  requireData(args, out, "output");
  std::vector<int64_t> ost = index.dim() == 0 ? std::vector<int64_t>{1} : out.strides();
  const int64_t dimSize = ss[static_cast<size_t>(dim)];
  const int64_t dstride = sst[static_cast<size_t>(dim)];
  std::vector<int64_t> s2 = sst;
  s2[static_cast<size_t>(dim)] = 0;
  const int64_t es = static_cast<int64_t>(self.elementSize());
  const char* s = static_cast<const char*>(self.data());
  char* d = static_cast<char*>(out.data());
  forEachIndex3(is, ist, s2, ost, [&](int64_t, int64_t io, int64_t so, int64_t doff) {
    const int64_t v =
        checkIndex(args, loadInt(index.data(), index.dtype(), io), dimSize, dim, false);
    std::memcpy(d + doff * es, s + (so + v * dstride) * es, static_cast<size_t>(es));
  });
}

// Shared body of scatter.value_out / scatter.src_out: out = self, then
// out[..., index[i], ...] = value or src[i].
void scatterInto(KernelArgs& args, Tensor& self, int64_t dimArg, Tensor& index, const Tensor* src,
                 const Scalar* value, Tensor& out) {
  const int64_t dim = normalizeDim(args, dimArg, self.dim());
  requireSameDtype(args, self, out, "input and output");
  requireIndexDtype(args, index, "index");
  std::vector<int64_t> ss, sst, is, ist;
  atLeast1d(self, ss, sst);
  atLeast1d(index, is, ist);
  if (is.size() != ss.size())
    args.fail(ErrorCode::InvalidArgument, "index ", index.describe(),
              " must have the same rank as input ", self.describe());
  for (size_t d = 0; d < ss.size(); ++d)
    if (static_cast<int64_t>(d) != dim && is[d] > ss[d])
      args.fail(ErrorCode::InvalidArgument, "index ", index.describe(), " is larger than input ",
                self.describe(), " at dim ", d);
  std::vector<int64_t> srs, srst;
  if (src) {
    atLeast1d(*src, srs, srst);
    if (srs.size() != is.size())
      args.fail(ErrorCode::InvalidArgument, "src ", src->describe(),
                " must have the same rank as index ", index.describe());
    for (size_t d = 0; d < is.size(); ++d)
      if (is[d] > srs[d])
        args.fail(ErrorCode::InvalidArgument, "index ", index.describe(), " is larger than src ",
                  src->describe(), " at dim ", d);
    if (src->dtype() != out.dtype()) checkLoadable(args, *src, "src");
  }
  requireRank(args, out, static_cast<size_t>(self.dim()));
  args.resizeOut(out, self.sizes());
  copyAll(args, self, out);
  if (index.numel() == 0) return;
  if (src) requireData(args, *src, "src");
  std::vector<int64_t> ost = self.dim() == 0 ? std::vector<int64_t>{1} : out.strides();
  const int64_t dimSize = ss[static_cast<size_t>(dim)];
  const int64_t dstride = ost[static_cast<size_t>(dim)];
  std::vector<int64_t> o2 = ost;
  o2[static_cast<size_t>(dim)] = 0;
  std::vector<int64_t> srcStrides = src ? srst : std::vector<int64_t>(is.size(), 0);
  void* d = out.data();
  const ScalarType ot = out.dtype();
  forEachIndex3(is, ist, o2, srcStrides, [&](int64_t, int64_t io, int64_t oo, int64_t so) {
    const int64_t v =
        checkIndex(args, loadInt(index.data(), index.dtype(), io), dimSize, dim, false);
    const int64_t dst = oo + v * dstride;
    if (src) {
      moveElem(src->data(), src->dtype(), so, d, ot, dst);
    } else if (value->isFloating()) {
      storeDouble(d, ot, dst, value->d);
    } else {
      storeInt(d, ot, dst, value->i);
    }
  });
}

// aten::scatter.value_out(Tensor self, int dim, Tensor index, Scalar value, *, Tensor(a!) out)
void scatter_value_out(KernelArgs& args) {
  args.expectCount(6);
  const Scalar value = args.scalar(3);
  checkLoadable(args, args.tensor(4), "output");
  scatterInto(args, args.tensor(0), args.toInt(1), args.tensor(2), nullptr, &value,
              args.tensor(4));
}

// aten::scatter.src_out(Tensor self, int dim, Tensor index, Tensor src, *, Tensor(a!) out)
void scatter_src_out(KernelArgs& args) {
  args.expectCount(6);
  scatterInto(args, args.tensor(0), args.toInt(1), args.tensor(2), &args.tensor(3), nullptr,
              args.tensor(4));
}

// aten::embedding.out(Tensor weight, Tensor indices, SymInt padding_idx=-1,
//                     bool scale_grad_by_freq=False, bool sparse=False, *, Tensor(a!) out)
void embedding_out(KernelArgs& args) {
  args.expectCount(7);
  Tensor& weight = args.tensor(0);
  Tensor& indices = args.tensor(1);
  (void)args.toInt(2);
  (void)args.toBool(3);
  (void)args.toBool(4);
  Tensor& out = args.tensor(5);
  if (weight.dim() != 2)
    args.fail(ErrorCode::InvalidArgument, "weight must be 2-D, got ", weight.describe());
  requireSameDtype(args, weight, out, "weight and output");
  requireIndexDtype(args, indices, "indices");
  std::vector<int64_t> outSizes = indices.sizes();
  outSizes.push_back(weight.size(1));
  requireRank(args, out, outSizes.size());
  args.resizeOut(out, outSizes);
  const int64_t rows = weight.size(0);
  std::vector<int64_t> picks;
  picks.reserve(static_cast<size_t>(indices.numel()));
  forEachElement(indices, [&](int64_t, int64_t off) {
    picks.push_back(
        checkIndex(args, loadInt(indices.data(), indices.dtype(), off), rows, 0, false));
  });
  if (out.numel() == 0) return;
  requireData(args, weight, "weight");
  requireData(args, out, "output");
  // Output dims: indices dims (walk the picks table), then the embedding dim.
  const size_t r = outSizes.size();
  std::vector<int64_t> wStrides(r, 0), pStrides(r, 0);
  int64_t pc = 1;
  for (size_t k = r - 1; k-- > 0;) {
    pStrides[k] = pc;
    pc *= outSizes[k];
  }
  wStrides[r - 1] = weight.strides()[1];
  const int64_t rowStride = weight.strides()[0];
  const int64_t es = static_cast<int64_t>(weight.elementSize());
  const char* s = static_cast<const char*>(weight.data());
  char* d = static_cast<char*>(out.data());
  forEachIndex3(outSizes, wStrides, pStrides, out.strides(),
                [&](int64_t, int64_t wo, int64_t p, int64_t doff) {
                  std::memcpy(d + doff * es,
                              s + (wo + picks[static_cast<size_t>(p)] * rowStride) * es,
                              static_cast<size_t>(es));
                });
}

ETN_REGISTER_KERNEL("aten::index.Tensor_out", index_tensor_out);
ETN_REGISTER_KERNEL("aten::index_put.out", index_put_out);
ETN_REGISTER_KERNEL("aten::index_select.out", index_select_out);
ETN_REGISTER_KERNEL("aten::gather.out", gather_out);
ETN_REGISTER_KERNEL("aten::scatter.value_out", scatter_value_out);
ETN_REGISTER_KERNEL("aten::scatter.src_out", scatter_src_out);
ETN_REGISTER_KERNEL("aten::embedding.out", embedding_out);

}  // namespace
}  // namespace etn
