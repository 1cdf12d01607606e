// An architecture the exporter supports: which config model_types it covers and
// how its config maps onto the shared decoder builder. One file per architecture
// (llama.ts, qwen2.ts, ...) plus a line in registry.ts.
import { ExecuTorchError } from '../../runtime/errors';
import { TextConfig, ropeForLayer } from '../hf';
import { activationOf } from './activation';
import { DecoderSpec } from './decoder-spec';

export interface TextArchitecture {
  /** config.json model_type values (text_config's for multimodal checkpoints). */
  modelTypes: readonly string[];
  decoderSpec(text: TextConfig): DecoderSpec;
}

/** What every decoder shares, read from the normalized config; architectures override the rest. */
export function baseDecoderSpec(text: TextConfig): DecoderSpec {
  if (text.attentionOutputBias || text.mlpBias)
    throw new ExecuTorchError('NotSupported', `${text.modelType}: biases on o_proj or the MLP are not supported by the exporter`);
  return {
    arch: text.modelType,
    vocabSize: text.vocabSize,
    hiddenSize: text.hiddenSize,
    intermediateSize: text.intermediateSize,
    numLayers: text.numLayers,
    numHeads: text.numHeads,
    numKvHeads: text.numKvHeads,
    headDim: text.headDim,
    rmsNormEps: text.rmsNormEps,
    normWeightOffset: 0,
    qkNorm: text.qkNorm,
    qkvBias: text.attentionBias,
    sandwichNorms: false,
    activation: activationOf(text.hiddenAct, text.modelType),
    embedScale: null,
    attnScale: 1 / Math.sqrt(text.headDim),
    layers: text.layerTypes.map((type, i) => ({
      rope: ropeForLayer(text, i),
      slidingWindow: type === 'sliding_attention' ? text.slidingWindow : null,
    })),
    tieWordEmbeddings: text.tieWordEmbeddings,
    finalLogitSoftcap: text.finalLogitSoftcapping,
  };
}
