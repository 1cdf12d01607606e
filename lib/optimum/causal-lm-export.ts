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
import { ConstantValue, lowerProgram } from '../export/lower/lower-program';
import { buildDecoderGraph } from '../export/models/decoder';
import { DecoderSpec } from '../export/models/decoder-spec';
import { textArchitecture } from '../export/models/registry';
import { partition } from '../export/passes/partition';
import { QLinear, quantizeLinears } from '../export/passes/quantize';
import { XnnpackPartitioner } from '../export/passes/xnnpack-partitioner';
import { writeProgram } from '../export/pte/program-writer';
import { ExecuTorchModelForCausalLM } from './causal-lm';

export interface CausalLMExportOptions {
  /** KV-cache length (positions a generation can reach); default min(max_position_embeddings, 2048). */
  maxSeqLen?: number;
  /** Custom SDPA (llama::custom_sdpa) — the only attention the exporter writes. */
  useCustomSdpa?: boolean;
  /** Custom KV cache (llama::update_cache) — the only cache the exporter writes. */
  useCustomKvCache?: boolean;
  /** Linear weight quantization: true = '8da4w'. */
  qlinear?: boolean | '8da4w' | '8da8w' | '8w' | '4w';
  /** Embedding quantization: true = '8w'. */
  qembedding?: boolean | '8w' | '4w';
}

/** A checkpoint ready to export: what `export()` turns into the program's methods. */
export class CausalLMExportableModule {
  constructor(
    readonly checkpoint: Checkpoint,
    readonly spec: DecoderSpec,
    readonly maxSeqLen: number,
    readonly qlinear: QLinear | null,
    readonly qembedding: '8w' | null,
  ) {}

  /** The method graphs: `forward`. */
  export(): Graph[] {
    const g = buildDecoderGraph(this.spec, this.checkpoint, { maxSeqLen: this.maxSeqLen, qembedding: this.qembedding ?? undefined });
    if (this.qlinear) quantizeLinears(g, this.qlinear);
    return [g];
  }

  /** optimum-executorch's constant methods. */
  metadata(): Record<string, ConstantValue[]> {
    const c = this.checkpoint.config;
    const text = c.text;
    const meta: Record<string, ConstantValue[]> = {
      get_max_seq_len: [this.maxSeqLen],
      get_max_batch_size: [1],
      get_vocab_size: [text.vocabSize],
      get_n_layers: [text.numLayers],
      get_n_kv_heads: [text.numKvHeads],
      get_head_dim: [{ double: text.headDim }],
      get_dtype: [6],
      use_kv_cache: [true],
      use_sdpa_with_kv_cache: [true],
      enable_dynamic_shape: [true],
      get_eos_id: eosIds(this.checkpoint),
    };
    const bos = this.checkpoint.generationConfig?.bosTokenId ?? c.bosTokenId;
    if (bos !== null && bos !== undefined) meta.get_bos_id = [bos];
    if (this.spec.layers.some((l) => l.slidingWindow !== null) && text.slidingWindow !== null)
      meta.sliding_window = [text.slidingWindow];
    return meta;
  }
}

function eosIds(ckpt: Checkpoint): number[] {
  const gen = ckpt.generationConfig?.eosTokenIds ?? [];
  return gen.length > 0 ? gen : ckpt.config.eosTokenIds;
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

function linearScheme(q: CausalLMExportOptions['qlinear']): QLinear | null {
  if (!q) return null;
  if (q === true || q === '8da4w') return '8da4w';
  if (q === '8da8w') return '8da8w';
  throw new ExecuTorchError('NotSupported', `qlinear '${q}' is not in the exporter yet (supported: 8da4w, 8da8w)`);
}

function embeddingScheme(q: CausalLMExportOptions['qembedding']): '8w' | null {
  if (!q) return null;
  if (q === true || q === '8w') return '8w';
  throw new ExecuTorchError('NotSupported', `qembedding '${q}' is not in the exporter yet (supported: 8w)`);
}

export interface ExportOptions {
  /** Where to write the .pte (written to a temporary file and renamed: never half-written). */
  outputPath: string;
  /** Progress of the write: bytes written so far and the total. */
  onProgress?: (event: { phase: 'write'; written: number; total: number }) => void;
}

export interface ExportedProgram {
  path: string;
  bytes: number;
  /** Loads the written program for generation. */
  load(options?: ProgramLoadOptions): Promise<ExecuTorchModelForCausalLM>;
}

/** Lowers the module's methods to XNNPACK (linears, pointwise math) and writes the .pte. */
export async function exportToExecuTorchWithXnnpack(module: CausalLMExportableModule, options: ExportOptions): Promise<ExportedProgram> {
  const xnnpack = new XnnpackPartitioner();
  const graphs = module.export();
  for (const g of graphs) await partition(g, xnnpack);
  const spec = lowerProgram({ graphs, constantMethods: module.metadata(), namedData: xnnpack.namedData });
  const layout = await writeProgram(spec, options.outputPath, {
    atomic: true,
    onProgress: options.onProgress ? (written, total) => options.onProgress!({ phase: 'write', written, total }) : undefined,
  });
  const path = options.outputPath;
  return { path, bytes: layout.fileSize, load: (o) => ExecuTorchModelForCausalLM.fromPretrained(path, o) };
}
