import * as fs from 'fs';
import * as path from 'path';
import { ExecuTorchError } from './errors';

/** Values as they cross the addon boundary. */
export type NativeValue =
  | { kind: 'tensor'; dtype: string; shape: number[]; data: ArrayBufferView | ArrayBuffer }
  | { kind: 'int'; value: number | bigint }
  | { kind: 'double'; value: number }
  | { kind: 'bool'; value: boolean }
  | { kind: 'string'; value: string }
  | { kind: 'none'; value?: null };

export interface NativeValueMeta {
  kind: string;
  dtype?: string;
  shape?: number[];
  dimOrder?: number[];
  dynamism?: 'static' | 'dynamic_bound' | 'dynamic_unbound';
  value?: number | bigint | boolean | string;
}

export interface NativeMethodMeta {
  name: string;
  inputs: NativeValueMeta[];
  outputs: NativeValueMeta[];
  operators: { name: string; calls: number }[];
  delegates: {
    id: string;
    location: string;
    index: number;
    size: number;
    compileSpecs: string[];
    graph?: { format: string; nodeCounts: Record<string, number>; values: number; constantBytes: number };
    error?: string;
  }[];
  plannedBufferSizes: number[];
  instructionCount: number;
  valueCount: number;
}

export interface NativeProgramInfo {
  fileSize: number;
  version: number;
  extendedHeader: { length: number; programSize: number; segmentBaseOffset: number; segmentDataSize: number } | null;
  segments: { offset: number; size: number }[];
  namedData: { key: string; segment: number; size: number }[];
  legacyConstantBuffers: number;
  constantSegmentEntries: number;
  mutableDataSegments: number;
  dataFiles: { name: string; keys: string[] }[];
}

export interface NativeProgramHandle {
  methodNames(): string[];
  methodMeta(name: string): NativeMethodMeta;
  info(): NativeProgramInfo;
  loadMethod(name: string): Promise<void>;
  execute(name: string, inputs: NativeValue[]): Promise<Array<NativeValue & { data?: ArrayBuffer }>>;
  dispose(): void;
}

export interface NativeAddon {
  xnnpackAvailable: boolean;
  loadProgram(
    source: string | Uint8Array,
    dataFiles: Array<string | Uint8Array>,
    threads: number,
    memoryLimit: number,
  ): Promise<NativeProgramHandle>;
  kernelNames(): string[];
  backendNames(): string[];
  /** The exporter's weight quantizer (native/export/quantize_symmetric), on worker threads. */
  quantizeSymmetric(
    w: Float32Array,
    rows: number,
    cols: number,
    groupSize: number,
    qmin: number,
    qmax: number,
  ): Promise<{ q: Int8Array; scales: Float32Array }>;
  /** int4 codes two per byte (native/export/pack_int4): low nibble first (XNNPACK) or high first (embedding_4bit). */
  packInt4(q: Int8Array, rows: number, cols: number, highFirst: boolean): Promise<Uint8Array>;
}

let cached: NativeAddon | undefined;

/** Where the addon is looked for: $EXECUTORCH_NODE_BINARY, then the cmake-js build. */
export function nativeBinaryPath(): string {
  const fromEnv = process.env.EXECUTORCH_NODE_BINARY;
  if (fromEnv) return path.resolve(fromEnv);
  return path.join(__dirname, '..', '..', 'build', 'Release', 'executorch_node.node');
}

export function native(): NativeAddon {
  if (cached) return cached;
  const file = nativeBinaryPath();
  if (!fs.existsSync(file))
    throw new ExecuTorchError(
      'NativeModuleMissing',
      `the native addon is not built (${file} is missing); run \`npm install\` or \`npm run build:native\``,
    );
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  cached = require(file) as NativeAddon;
  return cached;
}
