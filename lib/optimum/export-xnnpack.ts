// exportToExecuTorchWithXnnpack: an exportable module's method graphs, lowered to
// XNNPACK where it runs them, written as one .pte (atomically: temp file + rename).
//
// Where the time goes: lowering reads every delegated weight (to key it by content,
// and to quantize linear weights for their scales), and writing reads and quantizes
// them again as it streams them out (so no quantized model is ever held in memory).
// Both are reported as they advance, so a caller can draw a progress bar.
import * as fs from 'fs';
import * as path from 'path';
import { ExecuTorchError } from '../runtime/errors';
import { ProgramLoadOptions } from '../runtime/program';
import { Graph, Node } from '../export/graph/graph';
import { ConstantValue, lowerProgram } from '../export/lower/lower-program';
import { constantAliases } from '../export/passes/constant-dedup';
import { Partition, Partitioner, partition } from '../export/passes/partition';
import { XnnpackPartitioner } from '../export/passes/xnnpack-partitioner';
import { DelegateSpec } from '../export/pte/program-spec';
import { planProgram, writeProgram } from '../export/pte/program-writer';

/** What the export function needs of a loaded checkpoint (causal LM, image-text LM). */
export interface ExportableModule<Loaded> {
  /** The method graphs, quantized as the module was configured. */
  export(): Graph[];
  /** Constant methods (get_max_seq_len, get_eos_id, ...). */
  metadata(): Record<string, ConstantValue[]>;
  /** Opens the written program for inference. */
  loadExported(path: string, options?: ProgramLoadOptions): Promise<Loaded>;
  /** Closes the checkpoint files the module reads from (exports read weights lazily). */
  close(): Promise<void>;
}

/**
 * Progress of one export, in order: `build` once; `lower` as each method starts and
 * after each XNNPACK partition is lowered; `write` from 0 to total bytes, after each
 * constant or weight; `done` once, after the file is in place. `done` and `total` of
 * `lower` count partitions over all methods (`method` is the one being lowered), so one
 * bar can cover the whole phase. Events within a phase never go backwards.
 */
export type ExportProgress =
  | { phase: 'build' }
  | { phase: 'lower'; method: string; done: number; total: number }
  | { phase: 'write'; written: number; total: number }
  | { phase: 'done'; path: string; bytes: number; seconds: number };

export type ExportPhase = ExportProgress['phase'];

export interface ExportOptions {
  /** Where to write the .pte (written to a temporary file and renamed: never half-written). */
  outputPath: string;
  /** Called as the export advances; see ExportProgress. */
  onProgress?: (event: ExportProgress) => void;
}

export interface ExportedProgram<Loaded> {
  path: string;
  bytes: number;
  /** Loads the written program for generation. */
  load(options?: ProgramLoadOptions): Promise<Loaded>;
}

/** Lowers the module's methods to XNNPACK (linears, pointwise math) and writes the .pte. */
export async function exportToExecuTorchWithXnnpack<Loaded>(
  module: ExportableModule<Loaded>,
  options: ExportOptions,
): Promise<ExportedProgram<Loaded>> {
  const started = process.hrtime.bigint();
  const report = options.onProgress ?? (() => undefined);
  const outputPath = path.resolve(options.outputPath);
  // Before minutes of work: a missing folder or a directory in the way would only
  // surface at the final rename otherwise.
  await checkOutputPath(outputPath);

  report({ phase: 'build' });
  const graphs = module.export();

  const xnnpack = new XnnpackPartitioner();
  const total = graphs.reduce((n, g) => n + countPartitions(g, xnnpack), 0);
  let done = 0;
  for (const g of graphs) {
    report({ phase: 'lower', method: g.name, done, total });
    await partition(g, countingPartitioner(xnnpack, () => report({ phase: 'lower', method: g.name, done: ++done, total })));
  }

  const aliases = await constantAliases(graphs);
  const spec = lowerProgram({ graphs, constantMethods: module.metadata(), namedData: xnnpack.namedData, constantAliases: aliases });
  // The writer reports after each chunk; the 0 event puts the bar up before the first
  // (possibly slow to quantize) weight is read. Planning reads no weight.
  report({ phase: 'write', written: 0, total: planProgram(spec).fileSize });
  const layout = await writeProgram(spec, outputPath, {
    atomic: true,
    onProgress: (written, fileSize) => report({ phase: 'write', written, total: fileSize }),
  });

  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  report({ phase: 'done', path: outputPath, bytes: layout.fileSize, seconds });
  return { path: outputPath, bytes: layout.fileSize, load: (o) => module.loadExported(outputPath, o) };
}

async function checkOutputPath(file: string): Promise<void> {
  const dir = path.dirname(file);
  const dirStat = await fs.promises.stat(dir).catch(() => null);
  if (!dirStat) throw new ExecuTorchError('NotFound', `output folder ${dir} does not exist`);
  if (!dirStat.isDirectory()) throw new ExecuTorchError('InvalidArgument', `output folder ${dir} is not a directory`);
  const fileStat = await fs.promises.stat(file).catch(() => null);
  if (fileStat?.isDirectory()) throw new ExecuTorchError('InvalidArgument', `output path ${file} is a directory; give a file name (e.g. ${path.join(file, 'model.pte')})`);
}

/**
 * How many partitions `partition` will make of g: one per maximal run of nodes the
 * backend supports (partition.ts's rule), counted before any weight is read.
 */
function countPartitions(g: Graph, backend: Partitioner): number {
  let runs = 0;
  let inRun = false;
  for (const n of g.nodes) {
    const ok = backend.supports(g, n);
    if (ok && !inRun) runs++;
    inRun = ok;
  }
  return runs;
}

/** The backend, calling `lowered` after each partition it lowers. */
function countingPartitioner(backend: Partitioner, lowered: () => void): Partitioner {
  return {
    supports: (g: Graph, n: Node) => backend.supports(g, n),
    lower: async (g: Graph, p: Partition): Promise<DelegateSpec> => {
      const delegate = await backend.lower(g, p);
      lowered();
      return delegate;
    },
  };
}
