// Scaled dot-product attention over a KV cache, the custom ops of exported LLMs
// (namespace `llama`; note the misspelt `drpout_p` of the real schemas):
//   custom_sdpa.out(Tensor query, Tensor key, Tensor value, SymInt start_pos,
//       Tensor? attn_mask=None, float drpout_p=0.0, bool is_causal=False,
//       float? scale=None, *, Tensor(a!) out)
//   sdpa_with_kv_cache.out(Tensor query, Tensor key, Tensor value, Tensor(a!) key_cache,
//       Tensor(b!) value_cache, SymInt start_pos, SymInt seq_len, Tensor? attn_mask=None,
//       float drpout_p=0.0, bool is_causal=False, float? scale=None, *, Tensor(c!) out)
//   custom_quantized_sdpa.out(Tensor query, Tensor key, Tensor value, SymInt start_pos,
//       Tensor? attn_mask=None, float drpout_p=0.0, bool is_causal=False, float? scale=None,
//       Tensor? q_zero_points=None, Tensor? q_scales=None, Tensor? k_zero_points=None,
//       Tensor? k_scales=None, Tensor? v_zero_points=None, Tensor? v_scales=None,
//       bool is_seq_at_dim_2=False, *, Tensor(a!) out)
//
// Layout: q [B, Sq, Hq, D], k/v [B, Skv, Hkv, D] (the whole cache), out like q; the
// quantized op may instead use [B, H, S, D] (is_seq_at_dim_2). Grouped-query attention:
// query head h reads kv head h / (Hq / Hkv). Which keys a query row sees:
//   - with an additive float mask [Sq, Skv]: all Skv keys, score + mask[i, j];
//   - without a mask: only the first start_pos + Sq keys (the filled part of the cache);
//   - with is_causal: row i (absolute position start_pos + i) sees keys 0..start_pos + i.
// A mask and is_causal together are rejected. Dropout is ignored (inference).
//
// The computation is fused ("flash" style): for every (batch, kv head) the query rows of
// all heads sharing that kv head are processed in tiles; each tile streams over the
// keys in blocks, keeping a running row maximum, a running sum of exponentials and an
// unnormalised output accumulator, all in float32. Only a tile x block score matrix is
// ever materialised, and each key/value row is read once per tile. Rows whose keys are
// all masked produce NaN (softmax of nothing), like the reference math path.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <pthreadpool.h>

#include "../kernel_util.h"
#include "attention_math.h"
#include "kv_cache_util.h"

namespace etn {
namespace {

constexpr int64_t kRowTile = 32;    // query rows per tile
constexpr int64_t kKeyBlock = 256;  // keys per block

bool isSdpaFloat(ScalarType t) {
  return t == ScalarType::Float || t == ScalarType::Half || t == ScalarType::BFloat16;
}

// One element of a float32 / float16 / bfloat16 buffer as float.
inline float loadF(const char* base, ScalarType t, int64_t idx) {
  if (t == ScalarType::Float) {
    float f;
    std::memcpy(&f, base + idx * 4, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, base + idx * 2, 2);
  return t == ScalarType::Half ? halfToFloat(h) : bf16ToFloat(h);
}

inline void storeF(char* base, ScalarType t, int64_t idx, float v) {
  if (t == ScalarType::Float) {
    std::memcpy(base + idx * 4, &v, 4);
    return;
  }
  const uint16_t h = t == ScalarType::Half ? floatToHalf(v) : floatToBf16(v);
  std::memcpy(base + idx * 2, &h, 2);
}

// A q / k / v operand: element strides of its batch, sequence and head dims (the head
// dim D is always innermost), and for int8 operands the per-token scale / zero point.
struct Operand {
  const char* data = nullptr;
  ScalarType dtype = ScalarType::Float;
  int64_t sB = 0, sS = 0, sH = 0;
  // int8 only: float scales and int8 zero points, one per (batch, seq, head).
  const char* scales = nullptr;
  const char* zeros = nullptr;
  int64_t zB = 0, zS = 0, zH = 0;  // strides of the scale tensor
  int64_t pB = 0, pS = 0, pH = 0;  // strides of the zero-point tensor

  int64_t rowOffset(int64_t b, int64_t s, int64_t h) const { return b * sB + s * sS + h * sH; }

  // The row as a float pointer without copying (float32, suitably aligned), else null.
  const float* direct(int64_t b, int64_t s, int64_t h) const {
    if (dtype != ScalarType::Float) return nullptr;
    const char* p = data + rowOffset(b, s, h) * 4;
    if (reinterpret_cast<uintptr_t>(p) % alignof(float) != 0) return nullptr;
    return reinterpret_cast<const float*>(p);
  }

  // Converts (and dequantizes) one row of D elements, multiplied by `mul`.
  void loadRow(int64_t b, int64_t s, int64_t h, int64_t D, float mul, float* dst) const {
    const int64_t off = rowOffset(b, s, h);
    if (dtype == ScalarType::Char) {
      float scale;
      std::memcpy(&scale, scales + (b * zB + s * zS + h * zH) * 4, 4);
      const int8_t zp = static_cast<int8_t>(zeros[b * pB + s * pS + h * pH]);
      const int8_t* src = reinterpret_cast<const int8_t*>(data + off);
      const float m = scale * mul;
      for (int64_t d = 0; d < D; ++d)
        dst[d] = static_cast<float>(static_cast<int32_t>(src[d]) - zp) * m;
      return;
    }
    if (dtype == ScalarType::Float) {
      std::memcpy(dst, data + off * 4, static_cast<size_t>(D) * 4);
      if (mul != 1.0f)
        for (int64_t d = 0; d < D; ++d) dst[d] *= mul;
      return;
    }
    for (int64_t d = 0; d < D; ++d) dst[d] = loadF(data, dtype, off + d) * mul;
  }
};

// Everything the fused loop needs, validated.
struct AttentionPlan {
  Operand q, k, v;
  const char* mask = nullptr;
  ScalarType maskType = ScalarType::Float;
  char* out = nullptr;
  ScalarType outType = ScalarType::Float;
  int64_t oB = 0, oS = 0, oH = 0;
  int64_t B = 0, Sq = 0, Hq = 0, Hkv = 0, D = 0, Skv = 0;
  int64_t startPos = 0;
  int64_t numKeys = 0;  // keys visible before the causal limit
  bool causal = false;
  float scale = 1.0f;
};

// Rows n0..n0+nb of kv head `kvh` as float rows `*ld` apart: read in place when the
// cache is float32 and contiguous, otherwise converted into `buffer`.
const float* blockRows(const Operand& t, bool direct, int64_t b, int64_t n0, int64_t kvh, int64_t nb, int64_t D,
                       float* buffer, int64_t* ld) {
  if (direct) {
    *ld = t.sS;
    return t.direct(b, n0, kvh);
  }
  for (int64_t c = 0; c < nb; ++c) t.loadRow(b, n0 + c, kvh, D, 1.0f, buffer + c * D);
  *ld = D;
  return buffer;
}

// Per-thread working memory of one tile.
struct TileScratch {
  std::vector<float> qt, acc, sc, rowMax, rowSum, kbuf, vbuf, outRow, kt;
  std::vector<int64_t> rowPos, rowHead;
  void reserve(int64_t D) {
    const size_t d = static_cast<size_t>(D);
    qt.resize(kRowTile * d);
    acc.resize(kRowTile * d);
    sc.resize(static_cast<size_t>(kRowTile * kKeyBlock));
    rowMax.resize(kRowTile);
    rowSum.resize(kRowTile);
    rowPos.resize(kRowTile);
    rowHead.resize(kRowTile);
    kbuf.resize(static_cast<size_t>(kKeyBlock) * d);
    vbuf.resize(static_cast<size_t>(kKeyBlock) * d);
    outRow.resize(d);
    kt.resize(static_cast<size_t>(attention::kKeyLanes) * d);
  }
};

// Query rows [r0, r0 + kRowTile) of (batch b, kv head kvh): the rows of all query
// heads sharing that kv head, ordered (position, head in group).
void attendTile(const AttentionPlan& p, int64_t b, int64_t kvh, int64_t r0, TileScratch& s) {
  const int64_t D = p.D;
  const int64_t reps = p.Hq / p.Hkv;
  const int64_t rows = p.Sq * reps;
  const float negInf = -std::numeric_limits<float>::infinity();
  const bool kDirect = p.k.direct(0, 0, 0) != nullptr;
  const bool vDirect = p.v.direct(0, 0, 0) != nullptr;
  s.reserve(D);
  const int64_t nr = std::min(kRowTile, rows - r0);
  for (int64_t r = 0; r < nr; ++r) {
    s.rowPos[r] = (r0 + r) / reps;
    s.rowHead[r] = kvh * reps + (r0 + r) % reps;
    p.q.loadRow(b, s.rowPos[r], s.rowHead[r], D, p.scale, s.qt.data() + r * D);
    s.rowMax[r] = negInf;
    s.rowSum[r] = 0.0f;
  }
  std::fill(s.acc.begin(), s.acc.begin() + nr * D, 0.0f);

  // Keys this tile can see; the causal limit of its first row tells which blocks
  // need per-element masking.
  int64_t keysEnd = p.numKeys;
  int64_t firstLimit = keysEnd;
  if (p.causal) {
    keysEnd = std::min(keysEnd, p.startPos + s.rowPos[nr - 1] + 1);
    firstLimit = std::min(keysEnd, p.startPos + s.rowPos[0] + 1);
  }

  for (int64_t n0 = 0; n0 < keysEnd; n0 += kKeyBlock) {
    const int64_t nb = std::min(kKeyBlock, keysEnd - n0);

    // Keys of this block as float rows.
    int64_t ldk;
    const float* kBase = blockRows(p.k, kDirect, b, n0, kvh, nb, D, s.kbuf.data(), &ldk);

    // scores = (scale * q) . k
    attention::scores(s.qt.data(), nr, D, kBase, ldk, nb, s.sc.data(), kKeyBlock, s.kt.data());
    if (p.mask) {
      for (int64_t r = 0; r < nr; ++r) {
        float* row = s.sc.data() + r * kKeyBlock;
        const int64_t base = s.rowPos[r] * p.Skv + n0;
        if (p.maskType == ScalarType::Float) {
          for (int64_t c = 0; c < nb; ++c) {
            float m;
            std::memcpy(&m, p.mask + (base + c) * 4, 4);
            row[c] += m;
          }
        } else {
          for (int64_t c = 0; c < nb; ++c) row[c] += loadF(p.mask, p.maskType, base + c);
        }
      }
    }
    if (p.causal && n0 + nb > firstLimit) {
      for (int64_t r = 0; r < nr; ++r) {
        const int64_t firstHidden = p.startPos + s.rowPos[r] + 1 - n0;
        float* row = s.sc.data() + r * kKeyBlock;
        for (int64_t c = std::max<int64_t>(firstHidden, 0); c < nb; ++c) row[c] = negInf;
      }
    }

    // Online softmax: rescale what was accumulated when the running max grows.
    for (int64_t r = 0; r < nr; ++r) {
      float* row = s.sc.data() + r * kKeyBlock;
      float blockMax = negInf;
      for (int64_t c = 0; c < nb; ++c)
        if (row[c] > blockMax) blockMax = row[c];
      const float newMax = std::max(s.rowMax[r], blockMax);
      if (newMax == negInf) {  // everything so far is masked out
        for (int64_t c = 0; c < nb; ++c) row[c] = 0.0f;
        continue;
      }
      float blockSum = 0.0f;
      for (int64_t c = 0; c < nb; ++c) {
        const float e = std::exp(row[c] - newMax);
        row[c] = e;
        blockSum += e;
      }
      if (newMax != s.rowMax[r]) {
        const float alpha = std::exp(s.rowMax[r] - newMax);  // 0 when the old max was -inf
        s.rowSum[r] *= alpha;
        float* a = s.acc.data() + r * D;
        for (int64_t d = 0; d < D; ++d) a[d] *= alpha;
        s.rowMax[r] = newMax;
      }
      s.rowSum[r] += blockSum;
    }

    // acc += P . V
    int64_t ldv;
    const float* vBase = blockRows(p.v, vDirect, b, n0, kvh, nb, D, s.vbuf.data(), &ldv);
    attention::accumulate(s.acc.data(), nr, D, s.sc.data(), kKeyBlock, vBase, ldv, nb);

  }

  // out = acc / sum (0 / 0 = NaN for a row that saw no key).
  for (int64_t r = 0; r < nr; ++r) {
    const float sum = s.rowSum[r];
    const float* a = s.acc.data() + r * D;
    const int64_t off = b * p.oB + s.rowPos[r] * p.oS + s.rowHead[r] * p.oH;
    if (sum > 0.0f) {
      const float inv = 1.0f / sum;
      for (int64_t d = 0; d < D; ++d) s.outRow[d] = a[d] * inv;
    } else {
      for (int64_t d = 0; d < D; ++d) s.outRow[d] = a[d] / sum;
    }
    if (p.outType == ScalarType::Float) {
      std::memcpy(p.out + off * 4, s.outRow.data(), static_cast<size_t>(D) * 4);
    } else {
      for (int64_t d = 0; d < D; ++d) storeF(p.out, p.outType, off + d, s.outRow[d]);
    }
  }
}

struct AttentionTasks {
  const AttentionPlan* plan;
  int64_t tilesPerHead;
};

void attendTask(void* context, size_t task) {
  const auto* t = static_cast<const AttentionTasks*>(context);
  const AttentionPlan& p = *t->plan;
  thread_local TileScratch scratch;
  const int64_t i = static_cast<int64_t>(task);
  const int64_t tile = i % t->tilesPerHead;
  const int64_t head = i / t->tilesPerHead;
  attendTile(p, head / p.Hkv, head % p.Hkv, tile * kRowTile, scratch);
}

// Tiles are independent (each writes its own output rows), so they run in parallel
// over the program's thread pool: heads and row tiles for prefill, heads for decode.
void runAttention(const AttentionPlan& p, pthreadpool_t pool) {
  const int64_t rows = p.Sq * (p.Hq / p.Hkv);
  if (p.B == 0 || rows == 0 || p.D == 0) return;
  AttentionTasks tasks{&p, (rows + kRowTile - 1) / kRowTile};
  const size_t count = static_cast<size_t>(p.B * p.Hkv * tasks.tilesPerHead);
  if (pool != nullptr && count > 1) {
    pthreadpool_parallelize_1d(pool, attendTask, &tasks, count, 0);
  } else {
    for (size_t i = 0; i < count; ++i) attendTask(&tasks, i);
  }
}

// Strides of (batch, seq, head) for a 4-D contiguous tensor in either layout.
void layoutStrides(const Tensor& t, bool seqAtDim2, int64_t& sB, int64_t& sS, int64_t& sH) {
  sB = t.strides()[0];
  sS = t.strides()[seqAtDim2 ? 2 : 1];
  sH = t.strides()[seqAtDim2 ? 1 : 2];
}

struct QuantParams {
  const Tensor* zeros = nullptr;
  const Tensor* scales = nullptr;
};

void bindOperand(const KernelArgs& args, const Tensor& t, bool seqAtDim2, const QuantParams* qp,
                 const char* name, Operand& o) {
  o.data = static_cast<const char*>(t.data());
  o.dtype = t.dtype();
  layoutStrides(t, seqAtDim2, o.sB, o.sS, o.sH);
  if (t.dtype() != ScalarType::Char) return;
  const std::string zn = std::string(name) + "_zero_points", sn = std::string(name) + "_scales";
  if (!qp || !qp->zeros || !qp->scales)
    args.fail(ErrorCode::InvalidArgument, name, " is int8 but ", zn, " or ", sn, " is missing");
  const Tensor& z = *qp->zeros;
  const Tensor& s = *qp->scales;
  if (s.dtype() != ScalarType::Float)
    args.fail(ErrorCode::InvalidArgument, sn, " must be float32, got ", s.describe());
  if (z.dtype() != ScalarType::Char)
    args.fail(ErrorCode::InvalidArgument, zn, " must be int8, got ", z.describe());
  for (const Tensor* p : {&z, &s}) {
    const std::string& pn = p == &z ? zn : sn;
    bool ok = p->dim() == 4 && p->size(3) == 1;
    for (int64_t d = 0; ok && d < 3; ++d) ok = p->size(d) == t.size(d);
    if (!ok)
      args.fail(ErrorCode::InvalidArgument, pn, " ", p->describe(), " must be [",
                t.size(0), ", ", t.size(1), ", ", t.size(2), ", 1] for ", name, " ",
                t.describe());
    requireContiguous(args, *p, pn.c_str());
    llm::requireData(args, *p, pn.c_str());
  }
  o.scales = static_cast<const char*>(s.data());
  o.zeros = static_cast<const char*>(z.data());
  layoutStrides(s, seqAtDim2, o.zB, o.zS, o.zH);
  layoutStrides(z, seqAtDim2, o.pB, o.pS, o.pH);
}

// Validates the arguments of an attention call and resizes `out` to q's shape.
// quant: per-operand int8 parameters (custom_quantized_sdpa only).
AttentionPlan planAttention(const KernelArgs& args, const Tensor& q, const Tensor& k,
                            const Tensor& v, int64_t startPos, const Tensor* mask, bool isCausal,
                            std::optional<double> scale, Tensor& out, bool seqAtDim2,
                            const QuantParams* quant) {
  if (mask && isCausal)
    args.fail(ErrorCode::InvalidArgument, "attn_mask and is_causal cannot both be set");
  const Tensor* ops[3] = {&q, &k, &v};
  const char* names[3] = {"query", "key", "value"};
  for (int i = 0; i < 3; ++i)
    if (ops[i]->dim() != 4)
      args.fail(ErrorCode::InvalidArgument, names[i], " must be 4-D, got ", ops[i]->describe());
  const bool quantized = q.dtype() == ScalarType::Char;
  for (int i = 1; i < 3; ++i)
    if (ops[i]->dtype() != q.dtype())
      args.fail(ErrorCode::InvalidArgument, names[i], " dtype ", scalarTypeName(ops[i]->dtype()),
                " differs from query dtype ", scalarTypeName(q.dtype()));
  if (quantized ? !quant : !isSdpaFloat(q.dtype()))
    args.fail(ErrorCode::NotSupported, "query dtype ", scalarTypeName(q.dtype()),
              " (expected float32, float16 or bfloat16)");
  const int sd = seqAtDim2 ? 2 : 1, hd = seqAtDim2 ? 1 : 2;
  AttentionPlan p;
  p.B = q.size(0);
  p.Sq = q.size(sd);
  p.Hq = q.size(hd);
  p.D = q.size(3);
  p.Skv = k.size(sd);
  p.Hkv = k.size(hd);
  if (k.size(0) != p.B || v.size(0) != p.B)
    args.fail(ErrorCode::InvalidArgument, "batch sizes differ: query ", q.describe(), ", key ",
              k.describe(), ", value ", v.describe());
  if (k.sizes() != v.sizes())
    args.fail(ErrorCode::InvalidArgument, "key ", k.describe(), " and value ", v.describe(),
              " must have the same shape");
  if (k.size(3) != p.D)
    args.fail(ErrorCode::InvalidArgument, "head dim of query ", q.describe(), " and key ",
              k.describe(), " differ");
  if (p.Hkv <= 0 || p.Hq % p.Hkv != 0)
    args.fail(ErrorCode::InvalidArgument, "query heads (", p.Hq,
              ") must be a multiple of key/value heads (", p.Hkv, ")");
  for (int i = 0; i < 3; ++i) {
    requireContiguous(args, *ops[i], names[i]);
    llm::requireData(args, *ops[i], names[i]);
  }

  if (mask) {
    if (mask->dim() != 2 || mask->size(0) != p.Sq || mask->size(1) != p.Skv)
      args.fail(ErrorCode::InvalidArgument, "attn_mask ", mask->describe(), " must be [", p.Sq,
                ", ", p.Skv, "] (query length, key length)");
    if (!isSdpaFloat(mask->dtype()))
      args.fail(ErrorCode::InvalidArgument, "attn_mask must be an additive float mask, got ",
                mask->describe());
    requireContiguous(args, *mask, "attn_mask");
    llm::requireData(args, *mask, "attn_mask");
    p.mask = static_cast<const char*>(mask->data());
    p.maskType = mask->dtype();
    p.numKeys = p.Skv;
  } else {
    // Only the filled part of the cache is read: the first start_pos + Sq rows.
    if (startPos < 0 || startPos > p.Skv - p.Sq)
      args.fail(ErrorCode::InvalidArgument, "start_pos ", startPos, " with ", p.Sq,
                " query rows is out of range for ", p.Skv, " cached keys");
    p.numKeys = startPos + p.Sq;
  }
  p.startPos = startPos;
  p.causal = isCausal;

  const ScalarType outType = quantized ? ScalarType::Float : q.dtype();
  if (out.dtype() != outType)
    args.fail(ErrorCode::InvalidArgument, "out dtype ", scalarTypeName(out.dtype()),
              " must be ", scalarTypeName(outType));
  if (out.dim() != 4)
    args.fail(ErrorCode::InvalidArgument, "out must be 4-D, got ", out.describe());
  args.resizeOut(out, q.sizes());
  requireContiguous(args, out, "out");
  llm::requireData(args, out, "out");

  const double s = scale ? *scale : 1.0 / std::sqrt(static_cast<double>(p.D));
  if (!std::isfinite(s))
    args.fail(ErrorCode::InvalidArgument, "scale ", s, " is not finite");
  p.scale = static_cast<float>(s);

  bindOperand(args, q, seqAtDim2, quant ? &quant[0] : nullptr, "q", p.q);
  bindOperand(args, k, seqAtDim2, quant ? &quant[1] : nullptr, "k", p.k);
  bindOperand(args, v, seqAtDim2, quant ? &quant[2] : nullptr, "v", p.v);
  p.out = static_cast<char*>(out.data());
  p.outType = out.dtype();
  layoutStrides(out, seqAtDim2, p.oB, p.oS, p.oH);
  return p;
}

void custom_sdpa_out(KernelArgs& args) {
  args.expectCount(10);
  (void)args.toDouble(5);  // drpout_p: inference ignores dropout
  const AttentionPlan p =
      planAttention(args, args.tensor(0), args.tensor(1), args.tensor(2), args.toInt(3),
                    args.optTensor(4), args.toBool(6), args.optDouble(7), args.tensor(8), false,
                    nullptr);
  runAttention(p, args.threadpool());
}

void sdpa_with_kv_cache_out(KernelArgs& args) {
  args.expectCount(13);
  const Tensor& q = args.tensor(0);
  const Tensor& k = args.tensor(1);
  const Tensor& v = args.tensor(2);
  Tensor& kCache = args.tensor(3);
  Tensor& vCache = args.tensor(4);
  const int64_t startPos = args.toInt(5);
  const int64_t seqLen = args.toInt(6);
  (void)args.toDouble(8);
  llm::checkCacheWrite(args, k, kCache, "key", "key_cache");
  llm::checkCacheWrite(args, v, vCache, "value", "value_cache");
  for (int64_t n : {seqLen, k.size(1), v.size(1)}) {
    llm::checkStartPos(args, n, kCache, startPos, "key_cache");
    llm::checkStartPos(args, n, vCache, startPos, "value_cache");
  }
  // Everything is checked before the caches change.
  const AttentionPlan p = planAttention(args, q, kCache, vCache, startPos, args.optTensor(7),
                                        args.toBool(9), args.optDouble(10), args.tensor(11),
                                        false, nullptr);
  llm::copyIntoCache(k, kCache, startPos);
  llm::copyIntoCache(v, vCache, startPos);
  runAttention(p, args.threadpool());
}

void custom_quantized_sdpa_out(KernelArgs& args) {
  args.expectCount(17);
  (void)args.toDouble(5);
  QuantParams qp[3];
  for (int i = 0; i < 3; ++i) {
    qp[i].zeros = args.optTensor(static_cast<size_t>(8 + 2 * i));
    qp[i].scales = args.optTensor(static_cast<size_t>(9 + 2 * i));
  }
  const bool seqAtDim2 = args.toBool(14);
  const AttentionPlan p =
      planAttention(args, args.tensor(0), args.tensor(1), args.tensor(2), args.toInt(3),
                    args.optTensor(4), args.toBool(6), args.optDouble(7), args.tensor(15),
                    seqAtDim2, qp);
  runAttention(p, args.threadpool());
}

}  // namespace

ETN_REGISTER_KERNEL("llama::custom_sdpa.out", custom_sdpa_out);
ETN_REGISTER_KERNEL("llama::sdpa_with_kv_cache.out", sdpa_with_kv_cache_out);
ETN_REGISTER_KERNEL("llama::custom_quantized_sdpa.out", custom_quantized_sdpa_out);

}  // namespace etn
