// "Both ways" for the .pte writer: programs our writer produced, run in our runtime,
// and (through tools/interop/pte_roundtrip) in the official one.
//
// With EXECUTORCH_NODE_DUMP_PTE=<dir>, recordRun() writes <dir>/<name>.pte and
// <dir>/<name>.json (inputs, our outputs, the tolerance); run_in_official.py runs them in
// the official runtime and, with --record, stores the official outputs in
// tools/interop/pte_roundtrip/official-results.json. officialOutputs() reads that file,
// so the tests compare our outputs with the official runtime's without Python.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { Tensor, Value } from '../../lib';
import { repoRoot } from './paths';

export const dumpDir = process.env.EXECUTORCH_NODE_DUMP_PTE;
export const officialResultsPath = path.join(repoRoot, 'tools', 'interop', 'pte_roundtrip', 'official-results.json');

export type JsonValue =
  | { type: 'tensor'; dtype: string; shape: number[]; data: string }
  | { type: 'int'; value: number }
  | { type: 'double'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'none' };

export function toJsonValue(v: Value): JsonValue {
  if (v instanceof Tensor) {
    const d = v.data as unknown as ArrayBufferView;
    return { type: 'tensor', dtype: v.dtype, shape: [...v.shape], data: Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('base64') };
  }
  if (v === null) return { type: 'none' };
  if (typeof v === 'boolean') return { type: 'bool', value: v };
  if (typeof v === 'string') return { type: 'string', value: v };
  if (typeof v === 'bigint') return { type: 'int', value: Number(v) };
  return Number.isInteger(v) ? { type: 'int', value: v } : { type: 'double', value: v };
}

export function floatsOf(v: JsonValue): Float32Array {
  if (v.type !== 'tensor' || v.dtype !== 'float32') throw new Error(`not a float32 tensor: ${JSON.stringify(v).slice(0, 80)}`);
  const b = Buffer.from(v.data, 'base64');
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}

export interface RecordedCase {
  method: string;
  inputs: JsonValue[];
  outputs: JsonValue[];
}

export interface Tolerance {
  /** Largest accepted |ours - official| relative to the largest |official| of the output. */
  rtol: number;
  /** Plus this absolute slack. */
  atol?: number;
}

/** Writes the program and its cases for run_in_official.py when EXECUTORCH_NODE_DUMP_PTE is set. */
export function recordRun(name: string, bytes: Uint8Array, cases: RecordedCase[], tolerance: Tolerance): void {
  if (!dumpDir) return;
  fs.mkdirSync(dumpDir, { recursive: true });
  fs.writeFileSync(path.join(dumpDir, `${name}.pte`), bytes);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  fs.writeFileSync(path.join(dumpDir, `${name}.json`), JSON.stringify({ name, sha256, tolerance, cases }, null, 1));
}

export interface OfficialResult {
  name: string;
  sha256: string;
  load: { ok: boolean; error?: string };
  cases: Array<{
    method: string;
    ok: boolean;
    error?: string;
    /** Recorded in full for small programs. */
    outputs?: JsonValue[];
    /** The official outputs' digest, their largest difference from ours and the verdict, when recorded. */
    digest?: string;
    maxAbsDiffVsOurs?: number;
    withinTolerance?: boolean;
  }>;
  /** For official exports written again: the official runtime's outputs equal those on the original file. */
  sameAsOriginal?: boolean;
}

let officialCache: Record<string, OfficialResult> | undefined;

/** The official runtime's result for a program, as recorded by run_in_official.py --record. */
export function officialResult(name: string): OfficialResult | undefined {
  if (officialCache === undefined)
    officialCache = fs.existsSync(officialResultsPath)
      ? (JSON.parse(fs.readFileSync(officialResultsPath, 'utf8')) as { programs: Record<string, OfficialResult> }).programs
      : {};
  return officialCache[name];
}
