// `executorch-node export <hf-dir> -o model.pte`: a Hugging Face checkpoint folder to a
// .pte, through the same API a program would call (the loader for the checkpoint's
// kind, then exportToExecuTorchWithXnnpack), with progress on stderr.
import * as fs from 'fs';
import * as path from 'path';
import { exportToExecuTorchWithXnnpack } from '../optimum/export-xnnpack';
import { QEmbeddingOption, QLinearOption } from '../optimum/quantization-options';
import { checkpointKind, exportLoader, LoaderOptions } from './export-loader';
import { formatMB, progressView, ProgressView } from './export-progress';
import { UsageError } from './usage-error';

export const EXPORT_USAGE = `usage: executorch-node export <hf-dir> -o <model.pte> [--qlinear [8da4w|8da8w|8w|4w]] [--qembedding [8w|4w]] [--max-seq-len N]

Exports a Hugging Face checkpoint folder (config.json, *.safetensors) to an ExecuTorch
program, linears and pointwise math delegated to XNNPACK.

  -o, --output <file>    the .pte to write (nothing is left behind if the export fails)
  --qlinear [scheme]     quantize linear weights; without a scheme: 8da4w
  --qembedding [scheme]  quantize the token embedding; without a scheme: 8w
  --max-seq-len <N>      KV-cache length (default: min(max_position_embeddings, 2048))
  -h, --help             show this help`;

// The scheme names the API accepts (QLinearOption / QEmbeddingOption without `true`);
// whether the exporter implements one is the API's to say.
const QLINEAR_SCHEMES: readonly Exclude<QLinearOption, boolean>[] = ['8da4w', '8da8w', '8w', '4w'];
const QEMBEDDING_SCHEMES: readonly Exclude<QEmbeddingOption, boolean>[] = ['8w', '4w'];

export interface ExportArgs extends LoaderOptions {
  dir: string;
  output: string;
}

/** The command line after `export`; 'help' for --help. Throws UsageError. */
export function parseExportArgs(argv: string[]): ExportArgs | 'help' {
  const usage = (message: string): never => {
    throw new UsageError(message, EXPORT_USAGE);
  };
  let dir: string | undefined;
  let output: string | undefined;
  const options: LoaderOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = splitInline(argv[i]);
    // A flag's value: after '=' or the next argument. `optional` flags take the next
    // argument only if it looks like a scheme name (they start with a digit), so
    // `--qlinear <hf-dir>` still reads the folder as the folder.
    const value = (optional = false): string | undefined => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      if (next === undefined || (optional ? !/^\d[\da-z]*$/i.test(next) : next.startsWith('-') && next !== '-')) return undefined;
      i++;
      return next;
    };
    switch (flag) {
      case '-h':
      case '--help':
        return 'help';
      case '-o':
      case '--output':
        output = value() ?? usage(`${flag} needs a file name`);
        break;
      case '--qlinear': {
        const q = value(true) ?? '8da4w';
        options.qlinear = oneOf(q, QLINEAR_SCHEMES) ?? usage(`--qlinear '${q}' is not a scheme (one of ${QLINEAR_SCHEMES.join(', ')})`);
        break;
      }
      case '--qembedding': {
        const q = value(true) ?? '8w';
        options.qembedding = oneOf(q, QEMBEDDING_SCHEMES) ?? usage(`--qembedding '${q}' is not a scheme (one of ${QEMBEDDING_SCHEMES.join(', ')})`);
        break;
      }
      case '--max-seq-len': {
        const v = value() ?? usage('--max-seq-len needs a number');
        const n = Number(v);
        if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) usage(`--max-seq-len takes a positive integer, got '${v}'`);
        options.maxSeqLen = n;
        break;
      }
      default:
        if (flag.startsWith('-') && flag !== '-') usage(`unknown option '${flag}'`);
        if (inline !== undefined || dir !== undefined) usage(`unexpected argument '${argv[i]}'`);
        dir = argv[i];
    }
  }
  if (dir === undefined) usage('missing the checkpoint folder (<hf-dir>)');
  if (output === undefined) usage('missing the output file (-o <model.pte>)');
  return { dir: dir!, output: output!, ...options };
}

function splitInline(arg: string): [string, string | undefined] {
  if (!arg.startsWith('--')) return [arg, undefined];
  const eq = arg.indexOf('=');
  return eq < 0 ? [arg, undefined] : [arg.slice(0, eq), arg.slice(eq + 1)];
}

function oneOf<T extends string>(v: string, allowed: readonly T[]): T | undefined {
  return (allowed as readonly string[]).includes(v) ? (v as T) : undefined;
}

/** Runs `export`; returns the exit code (errors are thrown for main to report). */
export async function exportCommand(argv: string[]): Promise<number> {
  const args = parseExportArgs(argv);
  if (args === 'help') {
    console.log(EXPORT_USAGE);
    return 0;
  }
  const started = performance.now();
  const view = progressView(process.stderr);
  const unwatch = cleanUpOnInterrupt(args.output, view);
  try {
    const loader = exportLoader(await checkpointKind(args.dir));
    const module = await loader.load(args.dir, { maxSeqLen: args.maxSeqLen, qlinear: args.qlinear, qembedding: args.qembedding });
    try {
      const exported = await exportToExecuTorchWithXnnpack(module, { outputPath: args.output, onProgress: (e) => view.update(e) });
      view.stop();
      const seconds = (performance.now() - started) / 1000;
      console.log(`wrote ${args.output} (${formatMB(exported.bytes)}) in ${seconds.toFixed(1)} s`);
    } finally {
      await module.close();
    }
  } finally {
    view.stop();
    unwatch();
  }
  return 0;
}

/**
 * Ctrl-C (or SIGTERM) ends the process without the writer's own clean-up, so its
 * temporary file is removed here. program-writer.ts names it
 * `.<output name>.<pid>.<random>.partial`, beside the output.
 */
function cleanUpOnInterrupt(output: string, view: ProgressView): () => void {
  const target = path.resolve(output);
  const prefix = `.${path.basename(target)}.${process.pid}.`;
  const handler = (signal: NodeJS.Signals): void => {
    view.stop();
    try {
      for (const f of fs.readdirSync(path.dirname(target)))
        if (f.startsWith(prefix) && f.endsWith('.partial')) fs.rmSync(path.join(path.dirname(target), f), { force: true });
    } catch {
      // The folder is gone or unreadable: nothing of ours can be in it.
    }
    process.stderr.write(`interrupted (${signal}); nothing written\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
