// The decoder-only transformer every text architecture shares (Llama, SmolLM,
// Qwen 2/3, Gemma 3 text): embeddings, N x (norm, attention over a KV cache, norm,
// gated MLP), final norm, LM head. Builds the `forward(input_ids, cache_position)`
// graph that optimum-executorch exports: logits for every input position.
import { ExecuTorchError } from '../../runtime/errors';
import { Graph, SymIntValue, TensorValue } from '../graph/graph';
import { customSdpa, updateCache } from '../graph/ops/attention';
import { add, addScalar, gelu, mul, rsqrt, silu } from '../graph/ops/elementwise';
import { linear } from '../graph/ops/linear';
import { meanKeepDim } from '../graph/ops/reduction';
import { addInts, readInt, symSize } from '../graph/ops/scalars';
import { sliceFrom, view } from '../graph/ops/shape-ops';
import { bytesSource } from '../pte/program-spec';
import { DecoderSpec, WeightSource } from './decoder-spec';
import { rotateHalfMatrix, ropeTables } from './rope';
import { EmbeddingQuant, tokenEmbedding } from './token-embedding';
import { WeightConstants } from './weight-constants';

export interface DecoderOptions {
  /** Cache length; prompts of up to maxSeqLen - 1 tokens per call. */
  maxSeqLen: number;
  /** '8w': the embedding table as int8 rows with a float32 scale each (embedding_byte). */
  qembedding?: EmbeddingQuant;
}

interface Step {
  g: Graph;
  spec: DecoderSpec;
  w: WeightConstants;
  startPos: SymIntValue;
  endPos: SymIntValue;
  rotate: TensorValue;
  ropeCache: Map<string, { cos: TensorValue; sin: TensorValue }>;
  maskCache: Map<string, TensorValue>;
  maxSeqLen: number;
}

export function buildDecoderGraph(spec: DecoderSpec, weights: WeightSource, options: DecoderOptions): Graph {
  const g = new Graph('forward');
  const seq = { sym: 'seq', max: options.maxSeqLen - 1 };
  const inputIds = g.input('input_ids', 'int64', [1, seq]);
  const cachePosition = g.input('cache_position', 'int64', [seq]);
  const s = symSize(g, inputIds, 1);
  const startPos = readInt(g, cachePosition, 0, 'start_pos');
  const step: Step = {
    g, spec, w: new WeightConstants(g, weights), startPos, endPos: addInts(g, startPos, s, 'end_pos'),
    rotate: g.constant('rotate_half', 'float32', [spec.headDim, spec.headDim], bytesSource(new Uint8Array(rotateHalfMatrix(spec.headDim).buffer))),
    ropeCache: new Map(), maskCache: new Map(), maxSeqLen: options.maxSeqLen,
  };

  let h = tokenEmbedding(g, step.w, spec, inputIds, options.qembedding);
  for (let i = 0; i < spec.numLayers; i++) h = decoderLayer(step, h, i);
  h = rmsNorm(step, h, 'norm.weight');
  const head = step.w.get(spec.tieWordEmbeddings ? 'embed_tokens.weight' : 'lm_head.weight');
  if (spec.finalLogitSoftcap !== null) throw new ExecuTorchError('NotSupported', 'final logit soft-capping is not supported yet');
  g.outputs = [linear(g, h, head)];
  return g;
}

function decoderLayer(st: Step, x: TensorValue, i: number): TensorValue {
  const p = `layers.${i}.`;
  const { g, spec } = st;
  let attn = attention(st, rmsNorm(st, x, `${p}input_layernorm.weight`), i);
  if (spec.sandwichNorms) attn = rmsNorm(st, attn, `${p}post_attention_layernorm.weight`);
  const h = add(g, x, attn);
  const mlpIn = rmsNorm(st, h, spec.sandwichNorms ? `${p}pre_feedforward_layernorm.weight` : `${p}post_attention_layernorm.weight`);
  let m = mlp(st, mlpIn, p);
  if (spec.sandwichNorms) m = rmsNorm(st, m, `${p}post_feedforward_layernorm.weight`);
  return add(g, h, m);
}

/** x * rsqrt(mean(x^2) + eps) * w (Gemma: * (1 + w), folded into the constant). */
function rmsNorm(st: Step, x: TensorValue, weightName: string): TensorValue {
  const { g, spec } = st;
  const offset = spec.normWeightOffset;
  const w = st.w.get(weightName, offset ? (v) => v.map((e) => Math.fround(e + offset)) : undefined);
  const variance = meanKeepDim(g, mul(g, x, x), -1);
  const normed = mul(g, x, rsqrt(g, addScalar(g, variance, spec.rmsNormEps)));
  return mul(g, normed, w);
}

function attention(st: Step, x: TensorValue, i: number): TensorValue {
  const { g, spec } = st;
  const p = `layers.${i}.self_attn.`;
  const seq = x.shape[1];
  const proj = (name: string, heads: number, bias: boolean) => {
    const y = linear(g, x, st.w.get(`${p}${name}.weight`), bias ? st.w.get(`${p}${name}.bias`) : undefined);
    return view(g, y, [1, seq, heads, spec.headDim]);
  };
  let q = proj('q_proj', spec.numHeads, spec.qkvBias);
  let k = proj('k_proj', spec.numKvHeads, spec.qkvBias);
  const v = proj('v_proj', spec.numKvHeads, spec.qkvBias);
  if (spec.qkNorm) {
    q = rmsNorm(st, q, `${p}q_norm.weight`);
    k = rmsNorm(st, k, `${p}k_norm.weight`);
  }
  const window = spec.layers[i].slidingWindow;
  const mask = window !== null && window < st.maxSeqLen ? windowMaskRows(st, window, seq) : undefined;
  const { cos, sin } = ropeRows(st, i, seq);
  q = applyRope(st, q, cos, sin);
  k = applyRope(st, k, cos, sin);
  const cacheShape = [1, st.maxSeqLen, spec.numKvHeads, spec.headDim];
  const kCache = g.state(`k_cache.${i}`, 'float32', cacheShape);
  const vCache = g.state(`v_cache.${i}`, 'float32', cacheShape);
  updateCache(g, k, kCache, st.startPos);
  updateCache(g, v, vCache, st.startPos);
  const o = customSdpa(g, q, kCache, vCache, st.startPos, spec.attnScale, mask);
  return linear(g, view(g, o, [1, seq, spec.numHeads * spec.headDim]), st.w.get(`${p}o_proj.weight`));
}

/**
 * Additive attention mask rows [S, maxSeqLen] for positions start_pos .. start_pos + S
 * of a sliding-window layer: position p sees keys p - window < j <= p. The caches
 * keep every position, so a constant table [maxSeqLen, maxSeqLen] sliced at start_pos
 * is all it takes (memory-mapped; a call reads only its rows).
 */
function windowMaskRows(st: Step, window: number, seq: TensorValue['shape'][number]): TensorValue {
  const key = `mask.${window}`;
  let rows = st.maskCache.get(key);
  if (!rows) {
    const n = st.maxSeqLen;
    const table = new Float32Array(n * n).fill(-Infinity);
    for (let p = 0; p < n; p++) for (let j = Math.max(0, p - window + 1); j <= p; j++) table[p * n + j] = 0;
    rows = sliceFrom(st.g, st.w.table(`sliding_window_mask.${window}`, table, [n, n]), 0, st.startPos, st.endPos, seq);
    st.maskCache.set(key, rows);
  }
  return rows;
}

/** cos/sin rows of positions start_pos .. start_pos + S, as [1, S, 1, D]. */
function ropeRows(st: Step, layer: number, seq: TensorValue['shape'][number]): { cos: TensorValue; sin: TensorValue } {
  const { g, spec } = st;
  const rope = spec.layers[layer].rope;
  const key = JSON.stringify(rope);
  let rows = st.ropeCache.get(key);
  if (!rows) {
    const tables = ropeTables(spec.headDim, st.maxSeqLen, rope);
    const shape = [st.maxSeqLen, spec.headDim];
    const n = st.ropeCache.size;
    const cosTable = st.w.table(`rope_cos.${n}`, tables.cos, shape);
    const sinTable = st.w.table(`rope_sin.${n}`, tables.sin, shape);
    const slice = (t: TensorValue) => view(g, sliceFrom(g, t, 0, st.startPos, st.endPos, seq), [1, seq, 1, spec.headDim]);
    rows = { cos: slice(cosTable), sin: slice(sinTable) };
    st.ropeCache.set(key, rows);
  }
  return rows;
}

/** x * cos + rotate_half(x) * sin. */
function applyRope(st: Step, x: TensorValue, cos: TensorValue, sin: TensorValue): TensorValue {
  const { g } = st;
  return add(g, mul(g, x, cos), mul(g, linear(g, x, st.rotate), sin));
}

function mlp(st: Step, x: TensorValue, p: string): TensorValue {
  const { g, spec } = st;
  const gate = linear(g, x, st.w.get(`${p}mlp.gate_proj.weight`));
  const up = linear(g, x, st.w.get(`${p}mlp.up_proj.weight`));
  const act = spec.activation === 'silu' ? silu(g, gate) : gelu(g, gate, 'tanh');
  return linear(g, mul(g, act, up), st.w.get(`${p}mlp.down_proj.weight`));
}
