// The decoder-only transformer every text architecture shares (Llama, SmolLM,
// Qwen 2/3, Gemma 3 text): embeddings, N x (norm, attention over a KV cache, norm,
// gated MLP), final norm, LM head. Builds the `forward(input_ids, cache_position)`
// graph that optimum-executorch exports (or the image-text program's `text_decoder`
// over input embeddings): logits for every input position.
import { ExecuTorchError } from '../../runtime/errors';
import { Graph, SymIntValue, TensorValue } from '../graph/graph';
import { add, gelu, mul, silu } from '../graph/ops/elementwise';
import { linear } from '../graph/ops/linear';
import { rmsNorm as rmsNormOp } from '../graph/ops/normalization';
import { addInts, readInt, symSize } from '../graph/ops/scalars';
import { sliceFrom, view } from '../graph/ops/shape-ops';
import { bytesSource } from '../pte/program-spec';
import { DecoderSpec, WeightSource } from './decoder-spec';
import { HybridCache, maxTokensPerCall } from './hybrid-cache';
import { rotateHalfMatrix, ropeTables } from './rope';
import { EmbeddingQuant, tokenEmbedding } from './token-embedding';
import { WeightConstants } from './weight-constants';

export interface DecoderOptions {
  /** Cache length (positions a generation can reach). */
  maxSeqLen: number;
  /** '8w': the embedding table as int8 rows with a float32 scale each (embedding_byte). */
  qembedding?: EmbeddingQuant;
  /**
   * 'ids': `forward(input_ids [1,S], cache_position [S])`, the causal LM layout.
   * 'embeds': `text_decoder(inputs_embeds [1,S,H], cache_position [S])`, the image-text
   * layout (embeddings come from the token_embedding method, image rows spliced in).
   */
  input?: 'ids' | 'embeds';
  /** Adds an `image_block [S, 2]` input: image tokens attend to their whole image (see hybrid-cache). */
  imageBlock?: boolean;
}

interface Step {
  g: Graph;
  spec: DecoderSpec;
  w: WeightConstants;
  cache: HybridCache;
  startPos: SymIntValue;
  endPos: SymIntValue;
  rotate: TensorValue;
  ropeCache: Map<string, { cos: TensorValue; sin: TensorValue }>;
  maxSeqLen: number;
}

export function buildDecoderGraph(spec: DecoderSpec, weights: WeightSource, options: DecoderOptions): Graph {
  const embeds = options.input === 'embeds';
  const g = new Graph(embeds ? 'text_decoder' : 'forward');
  const seq = { sym: 'seq', max: maxTokensPerCall(spec, options.maxSeqLen) };
  const first = embeds ? g.input('inputs_embeds', 'float32', [1, seq, spec.hiddenSize]) : g.input('input_ids', 'int64', [1, seq]);
  const cachePosition = g.input('cache_position', 'int64', [seq]);
  const imageBlock = options.imageBlock ? g.input('image_block', 'int64', [seq, 2]) : undefined;
  const s = symSize(g, first, 1);
  const startPos = readInt(g, cachePosition, 0, 'start_pos');
  const endPos = addInts(g, startPos, s, 'end_pos');
  const w = new WeightConstants(g, weights);
  const step: Step = {
    g, spec, w, startPos, endPos,
    cache: new HybridCache(g, spec, { maxSeqLen: options.maxSeqLen, cachePosition, startPos, endPos, imageBlock }),
    rotate: g.constant('rotate_half', 'float32', [spec.headDim, spec.headDim], bytesSource(new Uint8Array(rotateHalfMatrix(spec.headDim).buffer))),
    ropeCache: new Map(), maxSeqLen: options.maxSeqLen,
  };

  let h = embeds ? first : tokenEmbedding(g, w, spec, first, options.qembedding);
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

/** RMSNorm with the layer's weight (Gemma: * (1 + w), folded into the constant). */
function rmsNorm(st: Step, x: TensorValue, weightName: string): TensorValue {
  const offset = st.spec.normWeightOffset;
  const w = st.w.get(weightName, offset ? (v) => v.map((e) => Math.fround(e + offset)) : undefined);
  return rmsNormOp(st.g, x, w, st.spec.rmsNormEps);
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
  const { cos, sin } = ropeRows(st, i, seq);
  q = applyRope(st, q, cos, sin);
  k = applyRope(st, k, cos, sin);
  const o = st.cache.attend(i, q, k, v);
  return linear(g, view(g, o, [1, seq, spec.numHeads * spec.headDim]), st.w.get(`${p}o_proj.weight`));
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
  const act = spec.activation === 'silu' ? silu(g, gate) : gelu(g, gate, spec.activation === 'gelu' ? 'none' : 'tanh');
  return linear(g, mul(g, act, up), st.w.get(`${p}mlp.down_proj.weight`));
}
