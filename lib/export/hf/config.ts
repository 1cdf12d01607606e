// config.json -> a normalized, typed config. Missing keys take the defaults of the
// transformers config class of the model_type (configuration_llama.py,
// configuration_qwen2.py, configuration_qwen3.py, configuration_gemma3.py,
// SiglipVisionConfig), so a checkpoint means the same thing here as in transformers.
import { ExecuTorchError } from '../../runtime/errors';
import { readJsonFile } from './files';
import { isJsonObject, JsonFields, JsonObject } from './json-fields';
import { LayerType, LAYER_TYPES, readRope, RopeByLayerType, RopeConfig, RopeDefaults } from './rope';

export const SUPPORTED_MODEL_TYPES = ['llama', 'qwen2', 'qwen3', 'gemma3_text', 'gemma3'] as const;
export type ModelType = (typeof SUPPORTED_MODEL_TYPES)[number];
export type TextModelType = Exclude<ModelType, 'gemma3'>;

export const SUPPORTED_CONFIG_DTYPES = ['float32', 'float16', 'bfloat16'] as const;
export type WeightDtype = (typeof SUPPORTED_CONFIG_DTYPES)[number];

export interface TextConfig {
  modelType: TextModelType;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  /** Biases on q_proj, k_proj, v_proj (Qwen 2 always; Llama/Qwen 3/Gemma 3 when attention_bias). */
  attentionBias: boolean;
  /** Bias on o_proj (attention_bias for Llama/Qwen 3/Gemma 3; never for Qwen 2). */
  attentionOutputBias: boolean;
  /** Biases on gate/up/down (Llama mlp_bias). */
  mlpBias: boolean;
  /** RMSNorm of q and k per head before RoPE (Qwen 3, Gemma 3). */
  qkNorm: boolean;
  /** hidden_act / hidden_activation as written ('silu', 'gelu_pytorch_tanh', ...). */
  hiddenAct: string;
  bosTokenId: number | null;
  eosTokenIds: number[];
  padTokenId: number | null;
  /** One entry per layer. */
  layerTypes: LayerType[];
  /** Window of the sliding_attention layers (null when there are none). */
  slidingWindow: number | null;
  /** Gemma 3: attention scale is queryPreAttnScalar ** -0.5 (others: headDim ** -0.5). */
  queryPreAttnScalar: number | null;
  attnLogitSoftcapping: number | null;
  finalLogitSoftcapping: number | null;
  /** Gemma 3 (EmbeddingGemma): non-causal attention; the window is then sliding_window // 2 + 1 as in HF. */
  useBidirectionalAttention: boolean;
  /** RoPE per layer type; see ropeForLayer. */
  rope: RopeByLayerType;
  dtype: WeightDtype | null;
}

export interface VisionConfig {
  modelType: 'siglip_vision_model';
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  headDim: number;
  numChannels: number;
  imageSize: number;
  patchSize: number;
  /** (imageSize / patchSize) ** 2, the rows of the position embedding. */
  numPatches: number;
  hiddenAct: string;
  layerNormEps: number;
  visionUseHead: boolean;
}

export interface MultimodalConfig {
  mmTokensPerImage: number;
  imageTokenIndex: number;
  boiTokenIndex: number;
  eoiTokenIndex: number;
}

export interface ModelConfig {
  modelType: ModelType;
  architectures: string[];
  text: TextConfig;
  /** Gemma 3 multimodal only. */
  vision: VisionConfig | null;
  multimodal: MultimodalConfig | null;
  /** dtype (>= 4.56) or torch_dtype; null when absent or "auto". */
  dtype: WeightDtype | null;
  /** Top-level ids (a multimodal config's own eos list, e.g. [eos, end_of_turn]); else the text config's. */
  bosTokenId: number | null;
  eosTokenIds: number[];
  padTokenId: number | null;
  /** The file it came from, for messages. */
  file: string;
  raw: JsonObject;
}

/** The RoPE of layer `i` (by its layer type). */
export function ropeForLayer(text: TextConfig, i: number): RopeConfig {
  return text.rope[text.layerTypes[i]];
}

export async function readModelConfig(file: string): Promise<ModelConfig> {
  return normalizeConfig(await readJsonFile(file), file);
}

/** Normalizes a parsed config.json; `file` only names it in messages. */
export function normalizeConfig(json: unknown, file = 'config.json'): ModelConfig {
  if (!isJsonObject(json)) throw new ExecuTorchError('InvalidCheckpoint', `${file}: not a JSON object`);
  const f = new JsonFields(json, file);
  const modelType = readModelType(f);
  const architectures = f.stringList('architectures') ?? [];
  const dtype = readDtype(f);
  if (modelType !== 'gemma3') {
    const text = readTextConfig(f, modelType, dtype);
    return { modelType, architectures, text, vision: null, multimodal: null, dtype, bosTokenId: text.bosTokenId, eosTokenIds: text.eosTokenIds, padTokenId: text.padTokenId, file, raw: json };
  }
  return readGemma3Multimodal(f, architectures, dtype);
}

function readModelType(f: JsonFields): ModelType {
  if (!f.has('model_type')) f.fail('model_type', `is missing; supported: ${SUPPORTED_MODEL_TYPES.join(', ')}`, 'NotSupported');
  const t = f.str('model_type', '');
  if (!(SUPPORTED_MODEL_TYPES as readonly string[]).includes(t)) {
    f.fail('model_type', `'${t}' is not supported; supported: ${SUPPORTED_MODEL_TYPES.join(', ')} (SmolLM checkpoints are 'llama')`, 'NotSupported');
  }
  return t as ModelType;
}

function readDtype(f: JsonFields, fallback: WeightDtype | null = null): WeightDtype | null {
  const key = f.has('dtype') ? 'dtype' : 'torch_dtype';
  if (!f.has(key)) return fallback;
  const v = f.str(key, '').replace(/^torch\./, '');
  if (v === 'auto') return fallback;
  if (!(SUPPORTED_CONFIG_DTYPES as readonly string[]).includes(v)) {
    f.fail(key, `'${v}' is not supported; supported: ${SUPPORTED_CONFIG_DTYPES.join(', ')}`, 'NotSupported');
  }
  return v as WeightDtype;
}

// ---- text decoders -------------------------------------------------------

/** The defaults that differ between the config classes. */
interface TextDefaults {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  /** null: num_attention_heads. */
  numKvHeads: number | null;
  /** null: hidden_size / num_attention_heads. */
  headDim: number | null;
  maxPositions: number;
  rmsNormEps: number;
  tie: boolean;
  bos: number | null;
  eos: number[];
  pad: number | null;
  actKey: string;
  act: string;
  rope: RopeDefaults;
}

const TEXT_DEFAULTS: Record<TextModelType, TextDefaults> = {
  llama: {
    vocabSize: 32000, hiddenSize: 4096, intermediateSize: 11008, numLayers: 32, numHeads: 32, numKvHeads: null, headDim: null,
    maxPositions: 2048, rmsNormEps: 1e-6, tie: false, bos: 1, eos: [2], pad: null, actKey: 'hidden_act', act: 'silu',
    rope: { theta: 10000, local: null },
  },
  qwen2: {
    vocabSize: 151936, hiddenSize: 4096, intermediateSize: 22016, numLayers: 32, numHeads: 32, numKvHeads: 32, headDim: null,
    maxPositions: 32768, rmsNormEps: 1e-6, tie: false, bos: null, eos: [], pad: null, actKey: 'hidden_act', act: 'silu',
    rope: { theta: 10000, local: null },
  },
  qwen3: {
    vocabSize: 151936, hiddenSize: 4096, intermediateSize: 22016, numLayers: 32, numHeads: 32, numKvHeads: 32, headDim: 128,
    maxPositions: 32768, rmsNormEps: 1e-6, tie: false, bos: null, eos: [], pad: null, actKey: 'hidden_act', act: 'silu',
    rope: { theta: 10000, local: null },
  },
  gemma3_text: {
    vocabSize: 262208, hiddenSize: 2304, intermediateSize: 9216, numLayers: 26, numHeads: 8, numKvHeads: 4, headDim: 256,
    maxPositions: 131072, rmsNormEps: 1e-6, tie: true, bos: 2, eos: [1], pad: 0, actKey: 'hidden_activation', act: 'gelu_pytorch_tanh',
    rope: { theta: 1_000_000, local: { key: 'rope_local_base_freq', theta: 10_000 } },
  },
};

function readTextConfig(f: JsonFields, modelType: TextModelType, dtype: WeightDtype | null): TextConfig {
  const d = TEXT_DEFAULTS[modelType];
  const hiddenSize = f.int('hidden_size', d.hiddenSize);
  const numHeads = f.int('num_attention_heads', d.numHeads);
  const numKvHeads = f.nullableInt('num_key_value_heads', d.numKvHeads, 1) ?? numHeads;
  if (numHeads % numKvHeads !== 0) f.fail('num_key_value_heads', `(${numKvHeads}) must divide num_attention_heads (${numHeads})`);
  const headDim = readHeadDim(f, d.headDim, hiddenSize, numHeads);
  const numLayers = f.int('num_hidden_layers', d.numLayers);
  const { layerTypes, slidingWindow } = readAttentionLayout(f, modelType, numLayers);
  const bias = readBiases(f, modelType);
  return {
    modelType,
    vocabSize: f.int('vocab_size', d.vocabSize),
    hiddenSize,
    intermediateSize: f.int('intermediate_size', d.intermediateSize),
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: f.num('rms_norm_eps', d.rmsNormEps),
    maxPositionEmbeddings: f.int('max_position_embeddings', d.maxPositions),
    tieWordEmbeddings: f.bool('tie_word_embeddings', d.tie),
    ...bias,
    qkNorm: modelType === 'qwen3' || modelType === 'gemma3_text',
    // Gemma3TextConfig reads only hidden_activation (a stray hidden_act is ignored by its MLP).
    hiddenAct: f.str(d.actKey, d.act),
    bosTokenId: f.nullableInt('bos_token_id', d.bos),
    eosTokenIds: f.ids('eos_token_id', d.eos),
    padTokenId: f.nullableInt('pad_token_id', d.pad),
    layerTypes,
    slidingWindow,
    queryPreAttnScalar: modelType === 'gemma3_text' ? f.num('query_pre_attn_scalar', 256) : null,
    attnLogitSoftcapping: f.nullableNum('attn_logit_softcapping', null),
    finalLogitSoftcapping: f.nullableNum('final_logit_softcapping', null),
    useBidirectionalAttention: modelType === 'gemma3_text' && f.bool('use_bidirectional_attention', false),
    rope: readRope(f, d.rope),
    dtype: readDtype(f, dtype),
  };
}

function readHeadDim(f: JsonFields, def: number | null, hiddenSize: number, numHeads: number): number {
  let headDim = f.nullableInt('head_dim', def, 1);
  if (headDim === null) {
    if (hiddenSize % numHeads !== 0) f.fail('head_dim', `is not set and hidden_size (${hiddenSize}) is not a multiple of num_attention_heads (${numHeads})`);
    headDim = hiddenSize / numHeads;
  }
  if (headDim % 2 !== 0) f.fail('head_dim', `(${headDim}) must be even for rotary embeddings`);
  return headDim;
}

function readBiases(f: JsonFields, modelType: TextModelType): Pick<TextConfig, 'attentionBias' | 'attentionOutputBias' | 'mlpBias'> {
  // Qwen2Attention hard-codes bias=True on q/k/v and False on o; it has no attention_bias key.
  if (modelType === 'qwen2') return { attentionBias: true, attentionOutputBias: false, mlpBias: false };
  const attention = f.bool('attention_bias', false);
  return { attentionBias: attention, attentionOutputBias: attention, mlpBias: modelType === 'llama' && f.bool('mlp_bias', false) };
}

/** layer_types, or the rule each config class derives them by when it is missing. */
function readAttentionLayout(f: JsonFields, modelType: TextModelType, numLayers: number): { layerTypes: LayerType[]; slidingWindow: number | null } {
  let slidingWindow: number | null = null;
  let derived: (i: number) => LayerType = () => 'full_attention';
  if (modelType === 'gemma3_text') {
    slidingWindow = f.nullableInt('sliding_window', 4096, 1);
    if (slidingWindow !== null && f.bool('use_bidirectional_attention', false)) slidingWindow = Math.floor(slidingWindow / 2) + 1;
    // Older configs: layer i is sliding unless (i + 1) is a multiple of the pattern.
    const pattern = f.int('sliding_window_pattern', f.int('_sliding_window_pattern', 6));
    derived = (i) => ((i + 1) % pattern !== 0 ? 'sliding_attention' : 'full_attention');
  } else if (modelType === 'qwen2' || modelType === 'qwen3') {
    // Qwen: the window exists only with use_sliding_window, on layers >= max_window_layers.
    const window = f.nullableInt('sliding_window', 4096, 1);
    slidingWindow = f.bool('use_sliding_window', false) ? window : null;
    const maxWindowLayers = f.int('max_window_layers', 28, 0);
    derived = (i) => (slidingWindow !== null && i >= maxWindowLayers ? 'sliding_attention' : 'full_attention');
  }
  const layerTypes = readLayerTypes(f, numLayers) ?? Array.from({ length: numLayers }, (_, i) => derived(i));
  const anySliding = layerTypes.includes('sliding_attention');
  if (anySliding && slidingWindow === null) f.fail('sliding_window', 'is not set but layer_types has sliding_attention layers');
  return { layerTypes, slidingWindow: anySliding ? slidingWindow : null };
}

function readLayerTypes(f: JsonFields, numLayers: number): LayerType[] | null {
  const list = f.stringList('layer_types');
  if (!list) return null;
  if (list.length !== numLayers) f.fail('layer_types', `has ${list.length} entries, num_hidden_layers is ${numLayers}`);
  const bad = list.find((t) => !(LAYER_TYPES as readonly string[]).includes(t));
  if (bad !== undefined) f.fail('layer_types', `entry '${bad}' is not supported; supported: ${LAYER_TYPES.join(', ')}`, 'NotSupported');
  return list as LayerType[];
}

// ---- Gemma 3 multimodal ----------------------------------------------------

function readGemma3Multimodal(f: JsonFields, architectures: string[], dtype: WeightDtype | null): ModelConfig {
  let textFields = f.child('text_config') ?? new JsonFields({}, f.file, 'text_config.');
  // transformers 5 also writes tie_word_embeddings at the top level (default True);
  // the text config's own key wins when both are there.
  if (!textFields.present('tie_word_embeddings') && f.has('tie_word_embeddings')) {
    textFields = new JsonFields({ ...textFields.obj, tie_word_embeddings: f.bool('tie_word_embeddings', true) }, f.file, textFields.prefix);
  }
  const tmType = textFields.str('model_type', 'gemma3_text');
  if (tmType !== 'gemma3_text') textFields.fail('model_type', `'${tmType}' is not supported for a gemma3 model; expected gemma3_text`, 'NotSupported');
  const text = readTextConfig(textFields, 'gemma3_text', dtype);
  const vision = readVisionConfig(f.child('vision_config') ?? new JsonFields({}, f.file, 'vision_config.'));
  const multimodal = readMultimodal(f, vision);
  return {
    modelType: 'gemma3',
    architectures,
    text,
    vision,
    multimodal,
    dtype: dtype ?? text.dtype,
    bosTokenId: f.nullableInt('bos_token_id', text.bosTokenId),
    eosTokenIds: f.ids('eos_token_id', text.eosTokenIds),
    padTokenId: f.nullableInt('pad_token_id', text.padTokenId),
    file: f.file,
    raw: f.obj,
  };
}

function readVisionConfig(f: JsonFields): VisionConfig {
  const type = f.str('model_type', 'siglip_vision_model');
  if (type !== 'siglip_vision_model') f.fail('model_type', `'${type}' is not supported; supported: siglip_vision_model`, 'NotSupported');
  const hiddenSize = f.int('hidden_size', 768);
  const numHeads = f.int('num_attention_heads', 12);
  if (hiddenSize % numHeads !== 0) f.fail('num_attention_heads', `(${numHeads}) must divide hidden_size (${hiddenSize})`);
  const imageSize = f.int('image_size', 224);
  const patchSize = f.int('patch_size', 16);
  if (imageSize % patchSize !== 0) f.fail('patch_size', `(${patchSize}) must divide image_size (${imageSize})`);
  return {
    modelType: 'siglip_vision_model',
    hiddenSize,
    intermediateSize: f.int('intermediate_size', 3072),
    numLayers: f.int('num_hidden_layers', 12),
    numHeads,
    headDim: hiddenSize / numHeads,
    numChannels: f.int('num_channels', 3),
    imageSize,
    patchSize,
    numPatches: (imageSize / patchSize) ** 2,
    hiddenAct: f.str('hidden_act', 'gelu_pytorch_tanh'),
    layerNormEps: f.num('layer_norm_eps', 1e-6),
    visionUseHead: f.bool('vision_use_head', true),
  };
}

function readMultimodal(f: JsonFields, vision: VisionConfig): MultimodalConfig {
  const mm = f.int('mm_tokens_per_image', 256);
  // The projector average-pools the patch grid down to sqrt(mm) x sqrt(mm) tokens.
  const side = Math.round(Math.sqrt(mm));
  const patchesPerSide = vision.imageSize / vision.patchSize;
  if (side * side !== mm || patchesPerSide % side !== 0) {
    f.fail('mm_tokens_per_image', `(${mm}) must be a square whose side divides the ${patchesPerSide}x${patchesPerSide} patch grid`);
  }
  const imageKey = f.has('image_token_index') || !f.has('image_token_id') ? 'image_token_index' : 'image_token_id';
  return {
    mmTokensPerImage: mm,
    imageTokenIndex: f.int(imageKey, 262_144, 0),
    boiTokenIndex: f.int(f.has('boi_token_index') || !f.has('boi_token_id') ? 'boi_token_index' : 'boi_token_id', 255_999, 0),
    eoiTokenIndex: f.int(f.has('eoi_token_index') || !f.has('eoi_token_id') ? 'eoi_token_index' : 'eoi_token_id', 256_000, 0),
  };
}
