// What the shared decoder builder needs to know about a decoder-only transformer;
// each architecture file fills it in from its Hugging Face config.
import type { RopeConfig } from '../hf';
import type { Activation } from './activation';

/** RoPE of a layer: the checkpoint reader's normalized form. */
export type RopeSpec = RopeConfig;

export interface DecoderSpec {
  /** 'llama', 'qwen3', ... for messages. */
  arch: string;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  /** Gemma stores RMSNorm weights as w and scales by (1 + w). */
  normWeightOffset: 0 | 1;
  /** Qwen 3 / Gemma 3: RMSNorm of q and k per head before RoPE. */
  qkNorm: boolean;
  /** Qwen 2: biases on q, k and v. */
  qkvBias: boolean;
  /** Gemma 3: extra norms after attention and around the MLP. */
  sandwichNorms: boolean;
  activation: Activation;
  /** Gemma: embeddings are multiplied by sqrt(hidden) (rounded to the weight dtype). */
  embedScale: number | null;
  /** Multiplies q.k (1/sqrt(head_dim), or Gemma's query_pre_attn_scalar^-0.5). */
  attnScale: number;
  /** Per layer: RoPE and the attention window (null = global). */
  layers: Array<{ rope: RopeSpec; slidingWindow: number | null }>;
  tieWordEmbeddings: boolean;
  finalLogitSoftcap: number | null;
}

/** Float32 weights by canonical name (see lib/export/hf/weight-names). */
export interface WeightSource {
  has(name: string): boolean;
  shape(name: string): number[];
  read(name: string): Promise<Float32Array>;
}
