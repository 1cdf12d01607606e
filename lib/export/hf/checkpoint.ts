// A local Hugging Face checkpoint folder: config.json (required),
// generation_config.json (optional), and weights in model.safetensors or in shards
// listed by model.safetensors.index.json. Tensors are addressed by canonical name
// (weight-names.ts) whatever key layout the checkpoint uses, and read lazily.
import * as path from 'path';
import { ExecuTorchError } from '../../runtime/errors';
import { ModelConfig, readModelConfig } from './config';
import { exists, requireDirectory } from './files';
import { GenerationConfig, readGenerationConfig } from './generation-config';
import { RawTensor, SafetensorsFile } from './safetensors';
import { readShardIndex, SHARD_INDEX_NAME } from './shard-index';
import { FLOAT_DTYPES, isFloatDtype, SafetensorsDtype } from './tensor-dtype';
import { detectLayout, expectedTensors, toCanonicalName, toStoredName, WeightLayout } from './weight-names';

export const SINGLE_WEIGHTS_NAME = 'model.safetensors';

export interface CheckpointOptions {
  /**
   * Check at open that every tensor the config implies is present, with its shape
   * and a float dtype (default true), so a bad checkpoint fails before any export work.
   */
  validate?: boolean;
}

export interface CheckpointTensorInfo {
  /** Canonical name. */
  name: string;
  /** The name stored in the checkpoint. */
  storedName: string;
  dtype: SafetensorsDtype;
  shape: number[];
  numel: number;
  byteLength: number;
  /** The .safetensors file holding it. */
  file: string;
}

interface Located {
  st: SafetensorsFile;
  stored: string;
}

export class Checkpoint {
  private closed = false;

  constructor(
    readonly dir: string,
    readonly config: ModelConfig,
    readonly generationConfig: GenerationConfig | null,
    readonly layout: WeightLayout,
    /** model.safetensors, or the index file of a sharded checkpoint (named in messages). */
    readonly weightsFile: string,
    private readonly shards: SafetensorsFile[],
    private readonly tensors: Map<string, Located>,
    private readonly unmapped: string[],
  ) {}

  /** The .safetensors files, in index order. */
  get files(): string[] {
    return this.shards.map((s) => s.path);
  }

  /** Bytes read from disk so far, headers included. */
  get bytesRead(): number {
    return this.shards.reduce((a, s) => a + s.stats.bytesRead, 0);
  }

  /** Canonical names of every stored tensor the layout covers, sorted. */
  tensorNames(): string[] {
    return [...this.tensors.keys()].sort();
  }

  /** Stored names the layout does not cover (e.g. a vision pooling head Gemma 3 never uses). */
  unmappedNames(): string[] {
    return [...this.unmapped];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): CheckpointTensorInfo {
    const { st, stored } = this.locate(name);
    const t = st.info(stored);
    return { name, storedName: stored, dtype: t.dtype, shape: [...t.shape], numel: t.numel, byteLength: t.byteLength, file: t.file };
  }

  shape(name: string): number[] {
    return this.info(name).shape;
  }

  /** The whole tensor as float32. */
  async read(name: string): Promise<Float32Array> {
    const { st, stored } = this.locate(name);
    return st.read(stored);
  }

  /** Rows rowStart .. rowStart + rowCount (first dimension) as float32, reading only those bytes. */
  async readRows(name: string, rowStart: number, rowCount: number): Promise<Float32Array> {
    const { st, stored } = this.locate(name);
    return st.readRows(stored, rowStart, rowCount);
  }

  /** Stored bytes and dtype (e.g. to keep a bf16 checkpoint bf16). */
  async readRaw(name: string): Promise<RawTensor> {
    const { st, stored } = this.locate(name);
    return st.readRaw(stored);
  }

  async readRawRows(name: string, rowStart: number, rowCount: number): Promise<RawTensor> {
    const { st, stored } = this.locate(name);
    return st.readRawRows(stored, rowStart, rowCount);
  }

  /** Throws InvalidCheckpoint naming the tensor, the expected and the actual shape. */
  expectShape(name: string, shape: readonly number[]): void {
    const problem = this.shapeProblem(name, shape);
    if (problem) throw new ExecuTorchError('InvalidCheckpoint', problem);
  }

  /** Every tensor the config implies: present (unless optional), right shape, float dtype. */
  validate(): void {
    const problems: string[] = [];
    for (const e of expectedTensors(this.config)) {
      if (!this.has(e.name)) {
        if (!e.optional) problems.push(this.missingMessage(e.name));
        continue;
      }
      const dtype = this.info(e.name).dtype;
      if (!isFloatDtype(dtype)) {
        const where = this.info(e.name);
        throw new ExecuTorchError('NotSupported', `${where.file}: tensor '${where.storedName}' (${e.name}) is ${dtype}; supported weight dtypes: ${FLOAT_DTYPES.join(', ')}`);
      }
      const p = this.shapeProblem(e.name, e.shape);
      if (p) problems.push(p);
    }
    if (problems.length === 0) return;
    const shown = problems.slice(0, 5).join('; ');
    const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : '';
    throw new ExecuTorchError('InvalidCheckpoint', `checkpoint ${this.dir} does not match its config.json: ${shown}${more}`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.shards.map((s) => s.close()));
  }

  private shapeProblem(name: string, shape: readonly number[]): string | null {
    if (!this.has(name)) return this.missingMessage(name);
    const t = this.info(name);
    if (t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i])) return null;
    return `${t.file}: tensor '${t.storedName}' (${name}) has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`;
  }

  private missingMessage(name: string): string {
    return `${this.weightsFile}: missing tensor '${toStoredName(this.layout, name)}' (${name})`;
  }

  private locate(name: string): Located {
    const loc = this.tensors.get(name);
    if (!loc) throw new ExecuTorchError('InvalidCheckpoint', this.missingMessage(name));
    return loc;
  }
}

/** Opens a checkpoint folder: configs parsed, safetensors headers validated, no tensor data read. */
export async function openCheckpoint(dir: string, options: CheckpointOptions = {}): Promise<Checkpoint> {
  await requireDirectory(dir);
  const configFile = path.join(dir, 'config.json');
  if (!(await exists(configFile))) throw new ExecuTorchError('NotFound', `${configFile}: no such file (a Hugging Face checkpoint folder needs config.json)`);
  const config = await readModelConfig(configFile);
  const genFile = path.join(dir, 'generation_config.json');
  const generationConfig = (await exists(genFile)) ? await readGenerationConfig(genFile) : null;
  const weights = await openWeights(dir);
  try {
    const checkpoint = indexTensors(dir, config, generationConfig, weights);
    if (options.validate !== false) checkpoint.validate();
    return checkpoint;
  } catch (err) {
    await Promise.all(weights.shards.map((s) => s.close().catch(() => undefined)));
    throw err;
  }
}

interface OpenedWeights {
  weightsFile: string;
  shards: SafetensorsFile[];
  /** Stored name -> file holding it. */
  owner: Map<string, SafetensorsFile>;
}

/** model.safetensors if present (transformers prefers it too), else the sharded index. */
async function openWeights(dir: string): Promise<OpenedWeights> {
  const single = path.join(dir, SINGLE_WEIGHTS_NAME);
  if (await exists(single)) {
    const st = await SafetensorsFile.open(single);
    return { weightsFile: single, shards: [st], owner: new Map(st.names().map((n) => [n, st])) };
  }
  const indexFile = path.join(dir, SHARD_INDEX_NAME);
  if (await exists(indexFile)) return openShards(dir, indexFile);
  if (await exists(path.join(dir, 'pytorch_model.bin'))) {
    throw new ExecuTorchError('NotSupported', `${dir}: only PyTorch pickle weights (pytorch_model.bin); supported: ${SINGLE_WEIGHTS_NAME} or ${SHARD_INDEX_NAME} (convert with safetensors)`);
  }
  throw new ExecuTorchError('NotFound', `${dir}: no ${SINGLE_WEIGHTS_NAME} and no ${SHARD_INDEX_NAME}`);
}

async function openShards(dir: string, indexFile: string): Promise<OpenedWeights> {
  const index = await readShardIndex(indexFile);
  const shards: SafetensorsFile[] = [];
  try {
    for (const name of index.shards) {
      const file = path.join(dir, name);
      if (!(await exists(file))) {
        const claimed = [...index.weightMap].filter(([, s]) => s === name).map(([t]) => t);
        throw new ExecuTorchError('NotFound', `${file}: shard listed in ${indexFile} (for '${claimed[0]}' and ${claimed.length - 1} more tensors) does not exist`);
      }
      shards.push(await SafetensorsFile.open(file));
    }
    const byName = new Map(index.shards.map((s, i) => [s, shards[i]]));
    const owner = new Map<string, SafetensorsFile>();
    for (const [tensor, shard] of index.weightMap) {
      const st = byName.get(shard)!;
      if (!st.has(tensor)) throw new ExecuTorchError('InvalidCheckpoint', `${indexFile}: tensor '${tensor}' is listed in ${shard}, but ${st.path} has no such tensor`);
      owner.set(tensor, st);
    }
    // transformers loads every tensor of every shard; keep unlisted ones too (the index wins on duplicates).
    for (const st of shards) for (const n of st.names()) if (!owner.has(n)) owner.set(n, st);
    return { weightsFile: indexFile, shards, owner };
  } catch (err) {
    await Promise.all(shards.map((s) => s.close().catch(() => undefined)));
    throw err;
  }
}

function indexTensors(dir: string, config: ModelConfig, gen: GenerationConfig | null, w: OpenedWeights): Checkpoint {
  const layout = detectLayout(config.modelType, new Set(w.owner.keys()), w.weightsFile);
  const tensors = new Map<string, Located>();
  const unmapped: string[] = [];
  for (const [stored, st] of w.owner) {
    const canonical = toCanonicalName(layout, stored);
    if (canonical === null) unmapped.push(stored);
    else tensors.set(canonical, { st, stored });
  }
  return new Checkpoint(dir, config, gen, layout, w.weightsFile, w.shards, tensors, unmapped);
}
