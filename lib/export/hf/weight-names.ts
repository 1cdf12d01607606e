// Canonical weight names, the names the model builders use whatever the
// checkpoint's key layout, and the per-architecture alias tables that map them to
// the names actually stored:
//
//   text:      embed_tokens.weight, layers.{i}.self_attn.{q,k,v,o}_proj.{weight,bias},
//              layers.{i}.self_attn.{q,k}_norm.weight, layers.{i}.mlp.{gate,up,down}_proj.weight,
//              layers.{i}.{input_layernorm,post_attention_layernorm,
//                          pre_feedforward_layernorm,post_feedforward_layernorm}.weight,
//              norm.weight, lm_head.weight (absent when tied)
//   vision:    vision.embeddings.{patch_embedding.{weight,bias},position_embedding.weight},
//              vision.encoder.layers.{i}.{self_attn.{q,k,v,out}_proj,layer_norm{1,2},mlp.fc{1,2}}.{weight,bias},
//              vision.post_layernorm.{weight,bias}
//   projector: projector.mm_input_projection_weight, projector.mm_soft_emb_norm.weight
//
// A layout is a short list of prefix substitutions (canonical prefix -> stored prefix),
// so mapping is a bijection on the names it covers and needs no per-tensor table.
import { ExecuTorchError } from '../../runtime/errors';
import { ModelConfig, ModelType, TextConfig, VisionConfig } from './config';

export type WeightLayoutId = 'decoder' | 'gemma3-hub' | 'gemma3-transformers4' | 'gemma3-transformers5';

export interface WeightLayout {
  id: WeightLayoutId;
  description: string;
  /** [canonical prefix, stored prefix]; the longest matching prefix wins. */
  prefixes: ReadonlyArray<readonly [string, string]>;
  /** Canonical names whose stored forms identify the layout. */
  signature: readonly string[];
}

const GEMMA3_SIGNATURE = ['embed_tokens.weight', 'vision.embeddings.patch_embedding.weight', 'projector.mm_input_projection_weight'];

export const WEIGHT_LAYOUTS: Record<WeightLayoutId, WeightLayout> = {
  decoder: {
    id: 'decoder',
    description: '*ForCausalLM (model.*, lm_head.*)',
    prefixes: [['lm_head.', 'lm_head.'], ['', 'model.']],
    signature: ['embed_tokens.weight'],
  },
  'gemma3-hub': {
    id: 'gemma3-hub',
    description: 'Gemma 3 as published on the Hub (language_model.model.*, vision_tower.vision_model.*, multi_modal_projector.*)',
    prefixes: [['lm_head.', 'language_model.lm_head.'], ['vision.', 'vision_tower.vision_model.'], ['projector.', 'multi_modal_projector.'], ['', 'language_model.model.']],
    signature: GEMMA3_SIGNATURE,
  },
  'gemma3-transformers4': {
    id: 'gemma3-transformers4',
    description: 'Gemma 3 saved by transformers 4.52-4.57 (model.language_model.*, model.vision_tower.vision_model.*, model.multi_modal_projector.*, lm_head.*)',
    prefixes: [['lm_head.', 'lm_head.'], ['vision.', 'model.vision_tower.vision_model.'], ['projector.', 'model.multi_modal_projector.'], ['', 'model.language_model.']],
    signature: GEMMA3_SIGNATURE,
  },
  'gemma3-transformers5': {
    id: 'gemma3-transformers5',
    description: 'Gemma 3 saved by transformers 5 (model.language_model.*, model.vision_tower.*, model.multi_modal_projector.*, lm_head.*)',
    prefixes: [['lm_head.', 'lm_head.'], ['vision.', 'model.vision_tower.'], ['projector.', 'model.multi_modal_projector.'], ['', 'model.language_model.']],
    signature: GEMMA3_SIGNATURE,
  },
};

/** The layouts a checkpoint of this model_type may use, in detection order. */
export function layoutsFor(modelType: ModelType): WeightLayout[] {
  if (modelType === 'gemma3') return [WEIGHT_LAYOUTS['gemma3-hub'], WEIGHT_LAYOUTS['gemma3-transformers4'], WEIGHT_LAYOUTS['gemma3-transformers5']];
  return [WEIGHT_LAYOUTS.decoder];
}

function longestPrefix(pairs: ReadonlyArray<readonly [string, string]>, name: string, side: 0 | 1): readonly [string, string] | null {
  let best: readonly [string, string] | null = null;
  for (const p of pairs) if (name.startsWith(p[side]) && (!best || p[side].length > best[side].length)) best = p;
  return best;
}

/** The stored name of a canonical name in this layout. */
export function toStoredName(layout: WeightLayout, canonical: string): string {
  const p = longestPrefix(layout.prefixes, canonical, 0);
  return p ? p[1] + canonical.slice(p[0].length) : canonical;
}

/** The canonical name of a stored name, or null when the layout does not cover it. */
export function toCanonicalName(layout: WeightLayout, stored: string): string | null {
  const p = longestPrefix(layout.prefixes, stored, 1);
  if (!p) return null;
  const canonical = p[0] + stored.slice(p[1].length);
  // Two stored names can strip to one canonical name (e.g. model.lm_head.x and lm_head.x);
  // only the one the forward map gives is that canonical name.
  return toStoredName(layout, canonical) === stored ? canonical : null;
}

/**
 * The layout whose signature names are all stored; none -> InvalidCheckpoint
 * naming `where` and what each layout expected.
 */
export function detectLayout(modelType: ModelType, stored: ReadonlySet<string>, where: string): WeightLayout {
  const candidates = layoutsFor(modelType);
  const found = candidates.find((l) => l.signature.every((n) => stored.has(toStoredName(l, n))));
  if (found) return found;
  const expected = candidates.map((l) => `${l.description}: ${l.signature.map((n) => toStoredName(l, n)).join(', ')}`).join('; ');
  const sample = [...stored].slice(0, 5).join(', ');
  throw new ExecuTorchError(
    'InvalidCheckpoint',
    `${where}: tensor names match no known ${modelType} layout; expected one of [${expected}]; found ${stored.size} tensors (${sample}${stored.size > 5 ? ', ...' : ''})`,
  );
}

// ---- what a config expects ------------------------------------------------------------

export interface ExpectedTensor {
  /** Canonical name. */
  name: string;
  shape: number[];
  /** lm_head.weight of a tied model: used only if present. */
  optional?: boolean;
}

/** Every weight the model of `config` needs, with its shape. */
export function expectedTensors(config: ModelConfig): ExpectedTensor[] {
  const out = expectedTextTensors(config.text);
  if (config.vision) out.push(...expectedVisionTensors(config.vision, config.text.hiddenSize));
  return out;
}

export function layerWeight(i: number, suffix: string): string {
  return `layers.${i}.${suffix}`;
}

export function expectedTextTensors(t: TextConfig): ExpectedTensor[] {
  const H = t.hiddenSize;
  const q = t.numHeads * t.headDim;
  const kv = t.numKvHeads * t.headDim;
  const gemma = t.modelType === 'gemma3_text';
  const out: ExpectedTensor[] = [{ name: 'embed_tokens.weight', shape: [t.vocabSize, H] }];
  for (let i = 0; i < t.numLayers; i++) {
    const w = (suffix: string, shape: number[]) => out.push({ name: layerWeight(i, suffix), shape });
    w('self_attn.q_proj.weight', [q, H]);
    w('self_attn.k_proj.weight', [kv, H]);
    w('self_attn.v_proj.weight', [kv, H]);
    w('self_attn.o_proj.weight', [H, q]);
    if (t.attentionBias) {
      w('self_attn.q_proj.bias', [q]);
      w('self_attn.k_proj.bias', [kv]);
      w('self_attn.v_proj.bias', [kv]);
    }
    if (t.attentionOutputBias) w('self_attn.o_proj.bias', [H]);
    if (t.qkNorm) {
      w('self_attn.q_norm.weight', [t.headDim]);
      w('self_attn.k_norm.weight', [t.headDim]);
    }
    w('mlp.gate_proj.weight', [t.intermediateSize, H]);
    w('mlp.up_proj.weight', [t.intermediateSize, H]);
    w('mlp.down_proj.weight', [H, t.intermediateSize]);
    if (t.mlpBias) {
      w('mlp.gate_proj.bias', [t.intermediateSize]);
      w('mlp.up_proj.bias', [t.intermediateSize]);
      w('mlp.down_proj.bias', [H]);
    }
    w('input_layernorm.weight', [H]);
    w('post_attention_layernorm.weight', [H]);
    if (gemma) {
      w('pre_feedforward_layernorm.weight', [H]);
      w('post_feedforward_layernorm.weight', [H]);
    }
  }
  out.push({ name: 'norm.weight', shape: [H] });
  out.push({ name: 'lm_head.weight', shape: [t.vocabSize, H], optional: t.tieWordEmbeddings });
  return out;
}

export function expectedVisionTensors(v: VisionConfig, textHidden: number): ExpectedTensor[] {
  const D = v.hiddenSize;
  const out: ExpectedTensor[] = [
    { name: 'vision.embeddings.patch_embedding.weight', shape: [D, v.numChannels, v.patchSize, v.patchSize] },
    { name: 'vision.embeddings.patch_embedding.bias', shape: [D] },
    { name: 'vision.embeddings.position_embedding.weight', shape: [v.numPatches, D] },
  ];
  const linear = (name: string, outDim: number, inDim: number) => {
    out.push({ name: `${name}.weight`, shape: [outDim, inDim] }, { name: `${name}.bias`, shape: [outDim] });
  };
  const norm = (name: string) => out.push({ name: `${name}.weight`, shape: [D] }, { name: `${name}.bias`, shape: [D] });
  for (let i = 0; i < v.numLayers; i++) {
    const p = `vision.encoder.layers.${i}.`;
    for (const proj of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) linear(`${p}self_attn.${proj}`, D, D);
    norm(`${p}layer_norm1`);
    norm(`${p}layer_norm2`);
    linear(`${p}mlp.fc1`, v.intermediateSize, D);
    linear(`${p}mlp.fc2`, D, v.intermediateSize);
  }
  norm('vision.post_layernorm');
  // Stored (vision_hidden, text_hidden) and used as x @ W, i.e. NOT an (out, in) linear weight.
  out.push({ name: 'projector.mm_input_projection_weight', shape: [D, textHidden] });
  out.push({ name: 'projector.mm_soft_emb_norm.weight', shape: [D] });
  return out;
}
