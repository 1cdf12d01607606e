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
import { ModelConfig, MultimodalConfig, VisionConfig } from '../hf';
import { Graph, TensorValue } from '../graph/graph';
import { customSdpa } from '../graph/ops/attention';
import { add, gelu } from '../graph/ops/elementwise';
import { linear } from '../graph/ops/linear';
import { layerNorm, rmsNorm } from '../graph/ops/normalization';
import { meanDims } from '../graph/ops/reduction';
import { permute, view } from '../graph/ops/shape-ops';
import { WeightSource } from './decoder-spec';
import { ImageTextArchitecture } from './image-text-architecture';
import { WeightConstants } from './weight-constants';

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

export const gemma3ImageText: ImageTextArchitecture = {
  modelTypes: ['gemma3'],
  imageEncoder: (c: ModelConfig) => {
    if (!c.vision || !c.multimodal)
      throw new ExecuTorchError('NotSupported', `${c.file}: model_type '${c.modelType}' has no vision_config; export it with loadCausalLMModel`);
    const spec = gemma3VisionSpec(c.vision, c.multimodal, c.text.hiddenSize, c.file);
    return { build: (weights) => buildVisionEncoderGraph(spec, weights), tokensPerImage: c.multimodal.mmTokensPerImage };
  },
};

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

interface Build {
  g: Graph;
  spec: VisionSpec;
  w: WeightConstants;
}

export function buildVisionEncoderGraph(spec: VisionSpec, weights: WeightSource): Graph {
  const g = new Graph('vision_encoder');
  const b: Build = { g, spec, w: new WeightConstants(g, weights) };
  const { channels: C, imageSize, patchSize: p, gridSize: P, hiddenSize: D } = spec;
  const pixels = g.input('pixel_values', 'float32', [1, C, imageSize, imageSize]);

  // [1, C, P*p, P*p] -> [1, P, P, C, p, p] -> [1, P*P, C*p*p]: row-major patches, each
  // flattened as the convolution kernel (D, C, p, p) is.
  const grid = permute(g, view(g, pixels, [1, C, P, p, P, p]), [0, 2, 4, 1, 3, 5]);
  const flat = view(g, grid, [1, P * P, C * p * p]);
  const kernel = b.w.get('vision.embeddings.patch_embedding.weight', undefined, [D, C * p * p]);
  let h = linear(g, flat, kernel, b.w.get('vision.embeddings.patch_embedding.bias'));
  h = add(g, h, b.w.get('vision.embeddings.position_embedding.weight'));

  for (let i = 0; i < spec.numLayers; i++) h = encoderLayer(b, h, i);
  h = norm(b, h, 'vision.post_layernorm');
  g.outputs = [project(b, h)];
  return g;
}

function norm({ g, spec, w }: Build, x: TensorValue, prefix: string): TensorValue {
  return layerNorm(g, x, w.get(`${prefix}.weight`), w.get(`${prefix}.bias`), spec.layerNormEps);
}

/** A linear with bias, weight stored (out, in). */
function dense({ g, w }: Build, x: TensorValue, prefix: string): TensorValue {
  return linear(g, x, w.get(`${prefix}.weight`), w.get(`${prefix}.bias`));
}

function encoderLayer(b: Build, x: TensorValue, i: number): TensorValue {
  const { g, spec } = b;
  const p = `vision.encoder.layers.${i}.`;
  const h = add(g, x, attention(b, norm(b, x, `${p}layer_norm1`), `${p}self_attn.`));
  const inner = gelu(g, dense(b, norm(b, h, `${p}layer_norm2`), `${p}mlp.fc1`), spec.gelu);
  return add(g, h, dense(b, inner, `${p}mlp.fc2`));
}

/** Every patch attends to every patch: custom SDPA at start 0 without a mask or causality. */
function attention(b: Build, x: TensorValue, p: string): TensorValue {
  const { g, spec } = b;
  const { numHeads: H, headDim: hd } = spec;
  const n = x.shape[1];
  const heads = (name: string) => view(g, dense(b, x, `${p}${name}`), [1, n, H, hd]);
  const o = customSdpa(g, heads('q_proj'), heads('k_proj'), heads('v_proj'), 0, 1 / Math.sqrt(hd), undefined, false);
  return dense(b, view(g, o, [1, n, H * hd]), `${p}out_proj`);
}

function project({ g, spec, w }: Build, x: TensorValue): TensorValue {
  const { gridSize: P, tokensPerSide: T, hiddenSize: D, textHiddenSize: E } = spec;
  const k = P / T;
  // Patch n sits at grid row n / P, column n % P; as [T, k, T, k] the pooling window of
  // cell (r, c) is [r, :, c, :], so averaging dims 2 and 4 is AvgPool2d(k, stride k).
  const pooled = view(g, meanDims(g, view(g, x, [1, T, k, T, k, D]), [2, 4]), [1, T * T, D]);
  const normW = w.get('projector.mm_soft_emb_norm.weight', (v) => v.map((e) => Math.fround(e + 1)));
  const normed = rmsNorm(g, pooled, normW, spec.layerNormEps);
  // Stored (vision_hidden, text_hidden) for x @ W; a linear wants (out, in): transpose.
  const projection = w.get('projector.mm_input_projection_weight', (v) => transpose(v, D, E), [E, D]);
  return linear(g, normed, projection);
}

function transpose(v: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(v.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = v[r * cols + c];
  return t;
}
