// The seed's export API for image-text-to-text models (Gemma 3), in TypeScript naming:
//
//   const module = await loadImageTextToTextModel('./gemma-3-4b-it', { maxLength: 2048, qlinear: '8da4w' });
//   const exported = await exportToExecuTorchWithXnnpack(module, { outputPath: 'model.pte' });
//
// The program has optimum-executorch's three methods:
//   vision_encoder(pixel_values [1,3,S,S])            -> image features [1, mm_tokens, H]
//   token_embedding(input_ids [1,N])                  -> embeddings [1, N, H] (scaled)
//   text_decoder(inputs_embeds [1,N,H], cache_position [N][, image_block [N,2]]) -> logits
// plus the constant methods (get_max_seq_len, sliding_window, the image processor's
// settings, ...). A runner embeds the prompt, replaces the image tokens' rows with the
// image features and prefills the decoder.
//
// `image_block` (on by default) gives each position the [start, end) positions of the
// image it belongs to ([0, 0] for text), so an image's tokens attend to each other as in
// transformers' Gemma 3 prefill. optimum-executorch's text_decoder has only the first two
// inputs (its image tokens attend causally); `bidirectionalImageAttention: false` writes
// that layout for runners that pass two inputs.
import { ExecuTorchError } from '../runtime/errors';
import { Program, ProgramLoadOptions } from '../runtime/program';
import { Checkpoint, openCheckpoint } from '../export/hf';
import { readPreprocessorConfig } from '../export/hf/preprocessor-config';
import { JsonObject } from '../export/hf/json-fields';
import { Graph } from '../export/graph/graph';
import { ConstantValue } from '../export/lower/lower-program';
import { DecoderSpec } from '../export/models/decoder-spec';
import { ImageEncoder } from '../export/models/image-text-architecture';
import { imageTextArchitecture } from '../export/models/image-text-registry';
import { maxTokensPerCall } from '../export/models/hybrid-cache';
import { textArchitecture } from '../export/models/registry';
import { EmbeddingQuant } from '../export/models/token-embedding';
import { QLinear } from '../export/passes/quantize';
import { decoderMetadata } from './decoder-metadata';
import { ExportableModule } from './export-xnnpack';
import {
  ImageEncoderExportableModule,
  TokenEmbeddingExportableModule,
  TorchExportableModuleForImageTextLM,
} from './exportable-modules';
import { QEmbeddingOption, QLinearOption, embeddingScheme, linearScheme } from './quantization-options';

export interface ImageTextExportOptions {
  /** KV-cache length; default min(max_position_embeddings, 2048). */
  maxLength?: number;
  /** Custom SDPA (llama::custom_sdpa): the only attention the exporter writes. */
  useCustomSdpa?: boolean;
  /** Custom KV cache (llama::update_cache[_with_indices]): the only cache the exporter writes. */
  useCustomKvCache?: boolean;
  /** The text decoder's linears; true = '8da4w'. The vision tower stays float. */
  qlinear?: QLinearOption;
  /** The token embedding table; true = '8w'. */
  qembedding?: QEmbeddingOption;
  /** Compute dtype; 'float32' (weights of any stored dtype are widened). */
  dtype?: 'float32';
  /** The text_decoder's image_block input (see above); default true. */
  bidirectionalImageAttention?: boolean;
}

export class ImageTextToTextExportableModule implements ExportableModule<Program> {
  readonly imageEncoder: ImageEncoderExportableModule;
  readonly tokenEmbedding: TokenEmbeddingExportableModule;
  readonly textDecoder: TorchExportableModuleForImageTextLM;

  constructor(
    readonly checkpoint: Checkpoint,
    readonly spec: DecoderSpec,
    readonly encoder: ImageEncoder,
    readonly maxSeqLen: number,
    readonly qlinear: QLinear | null,
    readonly qembedding: EmbeddingQuant | null,
    readonly bidirectionalImageAttention: boolean,
    private readonly preprocessor: JsonObject | null,
  ) {
    this.imageEncoder = new ImageEncoderExportableModule(encoder, checkpoint);
    this.tokenEmbedding = new TokenEmbeddingExportableModule(spec, checkpoint, { maxSeqLen, qembedding });
    this.textDecoder = new TorchExportableModuleForImageTextLM(spec, checkpoint, {
      maxSeqLen,
      qlinear,
      imageBlock: bidirectionalImageAttention,
    });
  }

  /** The most tokens one text_decoder call takes (sliding-window rings bound it). */
  get maxTokensPerCall(): number {
    return maxTokensPerCall(this.spec, this.maxSeqLen);
  }

  /** The method graphs: vision_encoder, token_embedding, text_decoder. */
  export(): Graph[] {
    return [this.imageEncoder.export(), this.tokenEmbedding.export(), this.textDecoder.export()];
  }

  close(): Promise<void> {
    return this.checkpoint.close();
  }

  loadExported(path: string, options?: ProgramLoadOptions): Promise<Program> {
    return Program.load(path, options);
  }

  metadata(): Record<string, ConstantValue[]> {
    const mm = this.checkpoint.config.multimodal!;
    return {
      ...decoderMetadata(this.checkpoint, this.spec, this.maxSeqLen),
      ...processorMetadata(this.preprocessor),
      modality: ['vision'],
      vision_token_id: [mm.imageTokenIndex],
      image_seq_length: [this.encoder.tokensPerImage],
    };
  }
}

/** The image processor's settings as constant methods, named as in preprocessor_config.json. */
function processorMetadata(p: JsonObject | null): Record<string, ConstantValue[]> {
  const out: Record<string, ConstantValue[]> = {};
  if (!p) return out;
  for (const [key, v] of Object.entries(p)) {
    if (typeof v === 'boolean' || typeof v === 'string') out[key] = [v];
    else if (typeof v === 'number') out[key] = [Number.isInteger(v) && key !== 'rescale_factor' ? v : { double: v }];
    else if (Array.isArray(v) && v.every((x) => typeof x === 'number')) out[key] = v.map((x) => ({ double: x as number }));
    else if (key === 'size' && v && typeof v === 'object') {
      const { height, width } = v as { height?: unknown; width?: unknown };
      if (typeof height === 'number' && typeof width === 'number') out.size = [height, width];
    }
  }
  return out;
}

export async function loadImageTextToTextModel(dir: string, options: ImageTextExportOptions = {}): Promise<ImageTextToTextExportableModule> {
  if (options.useCustomSdpa === false || options.useCustomKvCache === false)
    throw new ExecuTorchError('NotSupported', 'the exporter writes custom SDPA and a custom KV cache only (useCustomSdpa / useCustomKvCache must not be false)');
  if (options.dtype !== undefined && options.dtype !== 'float32')
    throw new ExecuTorchError('NotSupported', `dtype '${String(options.dtype)}' is not supported by the exporter yet (float32)`);
  const qlinear = linearScheme(options.qlinear);
  const qembedding = embeddingScheme(options.qembedding);
  const checkpoint = await openCheckpoint(dir);
  try {
    const c = checkpoint.config;
    const encoder = imageTextArchitecture(c.modelType, c.file).imageEncoder(c);
    const text = c.text;
    const spec = textArchitecture(text.modelType, c.file).decoderSpec(text);
    const maxSeqLen = options.maxLength ?? Math.min(text.maxPositionEmbeddings, 2048);
    if (!Number.isInteger(maxSeqLen) || maxSeqLen < 2)
      throw new ExecuTorchError('InvalidArgument', `maxLength must be an integer >= 2, got ${String(options.maxLength)}`);
    const preprocessor = await readPreprocessorConfig(dir);
    return new ImageTextToTextExportableModule(
      checkpoint, spec, encoder, maxSeqLen, qlinear, qembedding,
      options.bidirectionalImageAttention ?? true, preprocessor,
    );
  } catch (err) {
    await checkpoint.close();
    throw err;
  }
}
