// The seed's export API for decoder-only models, in TypeScript naming:
//
//   const module = await loadCausalLMModel('./SmolLM2-135M', { maxSeqLen: 1024 });
//   const exported = await exportToExecuTorchWithXnnpack(module, { outputPath: 'model.pte' });
//   const model = await exported.load();          // ExecuTorchModelForCausalLM
//
// The program has optimum-executorch's layout: `forward(input_ids [1,S], cache_position [S])`
// returning logits for every position, the KV cache inside the program, and the constant
// metadata methods (get_max_seq_len, get_eos_id, ...).
import { ExecuTorchError } from '../runtime/errors';
import { ProgramLoadOptions } from '../runtime/program';
import { Checkpoint, openCheckpoint } from '../export/hf';
import { Graph } from '../export/graph/graph';
import { ConstantValue } from '../export/lower/lower-program';
import { DecoderSpec } from '../export/models/decoder-spec';
import { textArchitecture } from '../export/models/registry';
import { EmbeddingQuant } from '../export/models/token-embedding';
import { QLinear } from '../export/passes/quantize';
import { ExecuTorchModelForCausalLM } from './causal-lm';
import { decoderMetadata } from './decoder-metadata';
import { ExportableModule } from './export-xnnpack';
import { TorchExportableModuleWithHybridCache } from './exportable-modules';
import { QEmbeddingOption, QLinearOption, embeddingScheme, linearScheme } from './quantization-options';

export interface CausalLMExportOptions {
  /** KV-cache length (positions a generation can reach); default min(max_position_embeddings, 2048). */
  maxSeqLen?: number;
  /** Custom SDPA (llama::custom_sdpa) — the only attention the exporter writes. */
  useCustomSdpa?: boolean;
  /** Custom KV cache (llama::update_cache) — the only cache the exporter writes. */
  useCustomKvCache?: boolean;
  /** Linear weight quantization: true = '8da4w'. */
  qlinear?: QLinearOption;
  /** Embedding quantization: true = '8w'. */
  qembedding?: QEmbeddingOption;
}

/** A checkpoint ready to export: what `export()` turns into the program's methods. */
export class CausalLMExportableModule implements ExportableModule<ExecuTorchModelForCausalLM> {
  constructor(
    readonly checkpoint: Checkpoint,
    readonly spec: DecoderSpec,
    readonly maxSeqLen: number,
    readonly qlinear: QLinear | null,
    readonly qembedding: EmbeddingQuant | null,
  ) {}

  /** The method graphs: `forward`. */
  export(): Graph[] {
    const { maxSeqLen, qlinear, qembedding } = this;
    return [new TorchExportableModuleWithHybridCache(this.spec, this.checkpoint, { maxSeqLen, qlinear, qembedding }).export()];
  }

  close(): Promise<void> {
    return this.checkpoint.close();
  }

  loadExported(path: string, options?: ProgramLoadOptions): Promise<ExecuTorchModelForCausalLM> {
    return ExecuTorchModelForCausalLM.fromPretrained(path, options);
  }

  /** optimum-executorch's constant methods. */
  metadata(): Record<string, ConstantValue[]> {
    return decoderMetadata(this.checkpoint, this.spec, this.maxSeqLen);
  }
}

export async function loadCausalLMModel(dir: string, options: CausalLMExportOptions = {}): Promise<CausalLMExportableModule> {
  if (options.useCustomSdpa === false || options.useCustomKvCache === false)
    throw new ExecuTorchError('NotSupported', 'the exporter writes custom SDPA and a custom KV cache only (useCustomSdpa / useCustomKvCache must not be false)');
  const qlinear = linearScheme(options.qlinear);
  const qembedding = embeddingScheme(options.qembedding);
  const checkpoint = await openCheckpoint(dir);
  try {
    const text = checkpoint.config.text;
    const arch = textArchitecture(text.modelType, checkpoint.config.file);
    const maxSeqLen = options.maxSeqLen ?? Math.min(text.maxPositionEmbeddings, 2048);
    if (!Number.isInteger(maxSeqLen) || maxSeqLen < 2)
      throw new ExecuTorchError('InvalidArgument', `maxSeqLen must be an integer >= 2, got ${String(options.maxSeqLen)}`);
    return new CausalLMExportableModule(checkpoint, arch.decoderSpec(text), maxSeqLen, qlinear, qembedding);
  } catch (err) {
    await checkpoint.close();
    throw err;
  }
}

