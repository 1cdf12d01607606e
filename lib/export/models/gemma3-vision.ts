// Gemma 3's image encoder: the SigLIP vision tower and the multimodal projector.
// Builds `vision_encoder(pixel_values [1, C, S, S]) -> [1, mm_tokens, text_hidden]`,
// the image features the text decoder takes in place of the image tokens' embeddings.
//
//   patches: the stride = kernel = patch convolution, written as a reshape to
//            [patches, C*p*p] and a linear with the kernel as its weight (same math;
//            XNNPACK runs it as one FullyConnected);
//   encoder: pre-LayerNorm blocks, bidirectional multi-head attention (custom SDPA
//            over the patches themselves), tanh-GELU MLP; post LayerNorm;
//   project: average pooling of the patch grid to sqrt(mm_tokens)^2 cells (a mean over
//            the pooled window's two axes), Gemma RMSNorm (1 + w, the vision eps),
//            then x @ W with W stored (vision_hidden, text_hidden).
import { ExecuTorchError } from '../../runtime/errors';
import { MultimodalConfig, VisionConfig } from '../hf';
import { Graph, TensorValue } from '../graph/graph';
import { customSdpa } from '../graph/ops/attention';
import { add, gelu } from '../graph/ops/elementwise';
import { linear } from '../graph/ops/linear';
import { layerNorm, rmsNorm } from '../graph/ops/normalization';
import { meanDims } from '../graph/ops/reduction';
import { permute, view } from '../graph/ops/shape-ops';
import { WeightSource } from './decoder-spec';

export interface VisionSpec {
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  headDim: number;
  channels: number;
  imageSize: number;
  patchSize: number;
  /** Patches per side (imageSize / patchSize). */
  gridSize: number;
  /** Pooled cells per side (sqrt(mm_tokens)). */
  tokensPerSide: number;
  gelu: 'tanh' | 'none';
  layerNormEps: number;
  textHiddenSize: number;
}

export function gemma3VisionSpec(v: VisionConfig, mm: MultimodalConfig, textHiddenSize: number, where: string): VisionSpec {
  const gridSize = v.imageSize / v.patchSize;
  const tokensPerSide = Math.round(Math.sqrt(mm.mmTokensPerImage));
  if (!Number.isInteger(gridSize) || tokensPerSide * tokensPerSide !== mm.mmTokensPerImage || gridSize % tokensPerSide !== 0)
    throw new ExecuTorchError(
      'InvalidCheckpoint',
      `${where}: image_size ${v.imageSize}, patch_size ${v.patchSize} and mm_tokens_per_image ${mm.mmTokensPerImage} do not pool to a square grid`,
    );
  const act = v.hiddenAct;
  if (act !== 'gelu_pytorch_tanh' && act !== 'gelu')
    throw new ExecuTorchError('NotSupported', `${where}: vision hidden_act '${act}' is not supported (gelu_pytorch_tanh, gelu)`);
  return {
    hiddenSize: v.hiddenSize,
    numLayers: v.numLayers,
    numHeads: v.numHeads,
    headDim: v.headDim,
    channels: v.numChannels,
    imageSize: v.imageSize,
    patchSize: v.patchSize,
    gridSize,
    tokensPerSide,
    gelu: act === 'gelu' ? 'none' : 'tanh',
    layerNormEps: v.layerNormEps,
    textHiddenSize,
  };
}

/** A checkpoint tensor as a constant of another shape or layout (read at write time). */
function weight(g: Graph, weights: WeightSource, name: string, shape: number[], transform?: (w: Float32Array) => Float32Array): TensorValue {
  if (!weights.has(name)) throw new ExecuTorchError('InvalidCheckpoint', `missing tensor ${name}`);
  const size = shape.reduce((a, b) => a * b, 1) * 4;
  const read = async () => {
    const w = await weights.read(name);
    const t = transform ? transform(w) : w;
    return new Uint8Array(t.buffer, t.byteOffset, t.byteLength);
  };
  return g.constant(name, 'float32', shape, { size, read }, true);
}

const vector = (g: Graph, w: WeightSource, name: string, n: number) => weight(g, w, name, [n]);

export function buildVisionEncoderGraph(spec: VisionSpec, weights: WeightSource): Graph {
  const g = new Graph('vision_encoder');
  const { channels: C, imageSize, patchSize: p, gridSize: P, hiddenSize: D } = spec;
  const pixels = g.input('pixel_values', 'float32', [1, C, imageSize, imageSize]);
  const patches = P * P;

  // [1, C, P*p, P*p] -> [1, P, P, C, p, p] -> [1, P*P, C*p*p]: row-major patches, each
  // flattened as the convolution kernel (D, C, p, p) is.
  const grid = permute(g, view(g, pixels, [1, C, P, p, P, p]), [0, 2, 4, 1, 3, 5]);
  const flat = view(g, grid, [1, patches, C * p * p]);
  const kernel = weight(g, weights, 'vision.embeddings.patch_embedding.weight', [D, C * p * p]);
  let h = linear(g, flat, kernel, vector(g, weights, 'vision.embeddings.patch_embedding.bias', D));
  h = add(g, h, weight(g, weights, 'vision.embeddings.position_embedding.weight', [patches, D]));

  for (let i = 0; i < spec.numLayers; i++) h = encoderLayer(g, spec, weights, h, i);
  h = norm(g, spec, weights, h, 'vision.post_layernorm');
  g.outputs = [project(g, spec, weights, h)];
  return g;
}

function norm(g: Graph, spec: VisionSpec, w: WeightSource, x: TensorValue, prefix: string): TensorValue {
  const D = spec.hiddenSize;
  return layerNorm(g, x, vector(g, w, `${prefix}.weight`, D), vector(g, w, `${prefix}.bias`, D), spec.layerNormEps);
}

/** A linear with bias from a (out, in) checkpoint weight. */
function dense(g: Graph, w: WeightSource, x: TensorValue, prefix: string, out: number, inF: number): TensorValue {
  return linear(g, x, weight(g, w, `${prefix}.weight`, [out, inF]), vector(g, w, `${prefix}.bias`, out));
}

function encoderLayer(g: Graph, spec: VisionSpec, w: WeightSource, x: TensorValue, i: number): TensorValue {
  const p = `vision.encoder.layers.${i}.`;
  const h = add(g, x, attention(g, spec, w, norm(g, spec, w, x, `${p}layer_norm1`), `${p}self_attn.`));
  const inner = dense(g, w, norm(g, spec, w, h, `${p}layer_norm2`), `${p}mlp.fc1`, intermediate(w, `${p}mlp.fc1.weight`), spec.hiddenSize);
  const mlp = dense(g, w, gelu(g, inner, spec.gelu), `${p}mlp.fc2`, spec.hiddenSize, inner.shape[2] as number);
  return add(g, h, mlp);
}

function intermediate(w: WeightSource, name: string): number {
  return w.shape(name)[0];
}

/** Every patch attends to every patch: custom SDPA at start 0 without a mask or causality. */
function attention(g: Graph, spec: VisionSpec, w: WeightSource, x: TensorValue, p: string): TensorValue {
  const { hiddenSize: D, numHeads: H, headDim: hd } = spec;
  const n = x.shape[1];
  const heads = (name: string) => view(g, dense(g, w, x, `${p}${name}`, H * hd, D), [1, n, H, hd]);
  const o = customSdpa(g, heads('q_proj'), heads('k_proj'), heads('v_proj'), 0, 1 / Math.sqrt(hd), undefined, false);
  return dense(g, w, view(g, o, [1, n, H * hd]), `${p}out_proj`, D, H * hd);
}

function project(g: Graph, spec: VisionSpec, w: WeightSource, x: TensorValue): TensorValue {
  const { gridSize: P, tokensPerSide: T, hiddenSize: D, textHiddenSize: E } = spec;
  const k = P / T;
  // Patch n sits at grid row n / P, column n % P; as [T, k, T, k] the pooling window of
  // cell (r, c) is [r, :, c, :], so averaging dims 2 and 4 is AvgPool2d(k, stride k).
  const pooled = view(g, meanDims(g, view(g, x, [1, T, k, T, k, D]), [2, 4]), [1, T * T, D]);
  const normW = weight(g, w, 'projector.mm_soft_emb_norm.weight', [D], (v) => v.map((e) => Math.fround(e + 1)));
  const normed = rmsNorm(g, pooled, normW, spec.layerNormEps);
  // Stored (vision_hidden, text_hidden) for x @ W; a linear wants (out, in): transpose.
  const projection = weight(g, w, 'projector.mm_input_projection_weight', [E, D], (v) => transpose(v, D, E));
  return linear(g, normed, projection);
}

function transpose(v: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(v.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = v[r * cols + c];
  return t;
}
