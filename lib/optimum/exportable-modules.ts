// The export wrappers optimum-executorch puts around a model's parts, in TypeScript:
// each turns checkpoint weights into one method graph of the program.
//
//   TorchExportableModuleWithHybridCache  decoder over a static + sliding-window ring
//                                         KV cache: `forward` (ids) or over embeddings
//   TorchExportableModuleForImageTextLM   the image-text `text_decoder` (embeddings in,
//                                         optional bidirectional image block)
//   TokenEmbeddingExportableModule        `token_embedding` (ids -> scaled embeddings)
//   ImageEncoderExportableModule          `vision_encoder` (pixels -> image features)
import { Graph } from '../export/graph/graph';
import { buildDecoderGraph } from '../export/models/decoder';
import { DecoderSpec, WeightSource } from '../export/models/decoder-spec';
import { ImageEncoder } from '../export/models/image-text-architecture';
import { EmbeddingQuant, tokenEmbedding } from '../export/models/token-embedding';
import { WeightConstants } from '../export/models/weight-constants';
import { QLinear, quantizeLinears } from '../export/passes/quantize';

export interface DecoderExportOptions {
  maxSeqLen: number;
  qlinear?: QLinear | null;
  qembedding?: EmbeddingQuant | null;
}

export class TorchExportableModuleWithHybridCache {
  constructor(
    readonly spec: DecoderSpec,
    readonly weights: WeightSource,
    readonly options: DecoderExportOptions & { inputsEmbeds?: boolean; imageBlock?: boolean },
  ) {}

  export(): Graph {
    const o = this.options;
    const g = buildDecoderGraph(this.spec, this.weights, {
      maxSeqLen: o.maxSeqLen,
      qembedding: o.qembedding ?? undefined,
      input: o.inputsEmbeds ? 'embeds' : 'ids',
      imageBlock: o.imageBlock,
    });
    if (o.qlinear) quantizeLinears(g, o.qlinear);
    return g;
  }
}

export class TorchExportableModuleForImageTextLM extends TorchExportableModuleWithHybridCache {
  /** imageBlock: image tokens of one image attend to each other (transformers' Gemma 3 prefill). */
  constructor(spec: DecoderSpec, weights: WeightSource, options: DecoderExportOptions & { imageBlock: boolean }) {
    super(spec, weights, { ...options, inputsEmbeds: true });
  }
}

export class TokenEmbeddingExportableModule {
  constructor(
    readonly spec: DecoderSpec,
    readonly weights: WeightSource,
    readonly options: { maxSeqLen: number; qembedding?: EmbeddingQuant | null },
  ) {}

  export(): Graph {
    const g = new Graph('token_embedding');
    const ids = g.input('input_ids', 'int64', [1, { sym: 'seq', max: this.options.maxSeqLen - 1 }]);
    g.outputs = [tokenEmbedding(g, new WeightConstants(g, this.weights), this.spec, ids, this.options.qembedding ?? undefined)];
    return g;
  }
}

export class ImageEncoderExportableModule {
  constructor(readonly encoder: ImageEncoder, readonly weights: WeightSource) {}

  export(): Graph {
    return this.encoder.build(this.weights);
  }
}
