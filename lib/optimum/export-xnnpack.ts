// exportToExecuTorchWithXnnpack: an exportable module's method graphs, lowered to
// XNNPACK where it runs them, written as one .pte (atomically: temp file + rename).
import { ProgramLoadOptions } from '../runtime/program';
import { Graph } from '../export/graph/graph';
import { ConstantValue, lowerProgram } from '../export/lower/lower-program';
import { partition } from '../export/passes/partition';
import { XnnpackPartitioner } from '../export/passes/xnnpack-partitioner';
import { writeProgram } from '../export/pte/program-writer';

/** What the export function needs of a loaded checkpoint (causal LM, image-text LM). */
export interface ExportableModule<Loaded> {
  /** The method graphs, quantized as the module was configured. */
  export(): Graph[];
  /** Constant methods (get_max_seq_len, get_eos_id, ...). */
  metadata(): Record<string, ConstantValue[]>;
  /** Opens the written program for inference. */
  loadExported(path: string, options?: ProgramLoadOptions): Promise<Loaded>;
}

export interface ExportOptions {
  /** Where to write the .pte (written to a temporary file and renamed: never half-written). */
  outputPath: string;
  /** Progress of the write: bytes written so far and the total. */
  onProgress?: (event: { phase: 'write'; written: number; total: number }) => void;
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
  const xnnpack = new XnnpackPartitioner();
  const graphs = module.export();
  for (const g of graphs) await partition(g, xnnpack);
  const spec = lowerProgram({ graphs, constantMethods: module.metadata(), namedData: xnnpack.namedData });
  const layout = await writeProgram(spec, options.outputPath, {
    atomic: true,
    onProgress: options.onProgress ? (written, total) => options.onProgress!({ phase: 'write', written, total }) : undefined,
  });
  const path = options.outputPath;
  return { path, bytes: layout.fileSize, load: (o) => module.loadExported(path, o) };
}
