import { compilePte } from './pte-json';

/**
 * Small programs around one (or a few) operator calls, for kernel tests.
 * Values are described by kind; tensors are either caller inputs (no memory
 * plan: the method binds the caller's data), planned (memory_id 1, zeroed at
 * load, kept across executes) or constants (legacy inline constant_buffer).
 */
export type ValueSpec =
  | { kind: 'input'; dtype: string; sizes: number[]; dynamic?: boolean }
  | { kind: 'planned'; dtype: string; sizes: number[]; dynamic?: boolean }
  | { kind: 'const'; dtype: string; sizes: number[]; bytes: Uint8Array }
  | { kind: 'int'; value: number }
  | { kind: 'double'; value: number }
  | { kind: 'bool'; value: boolean }
  | { kind: 'none' };

export interface CallSpec {
  /** "namespace::name" */
  op: string;
  /** Overload; "out" unless given ("" for .default). */
  overload?: string;
  /** Value indices, exactly as the KernelCall lists them (out tensor repeated as the return). */
  args: number[];
}

export interface OpProgramSpec {
  values: ValueSpec[];
  calls: CallSpec[];
  outputs: number[];
  /** Method inputs; all 'input' tensors in value order unless given. */
  inputs?: number[];
}

const ELEMENT_SIZE: Record<string, number> = {
  BYTE: 1, CHAR: 1, SHORT: 2, INT: 4, LONG: 8, HALF: 2, FLOAT: 4, DOUBLE: 8, BOOL: 1, BFLOAT16: 2,
};

export const input = (dtype: string, sizes: number[], dynamic = false): ValueSpec => ({ kind: 'input', dtype, sizes, dynamic });
export const planned = (dtype: string, sizes: number[], dynamic = false): ValueSpec => ({ kind: 'planned', dtype, sizes, dynamic });
export const constant = (dtype: string, sizes: number[], bytes: Uint8Array): ValueSpec => ({ kind: 'const', dtype, sizes, bytes });
export const int = (value: number): ValueSpec => ({ kind: 'int', value });
export const double = (value: number): ValueSpec => ({ kind: 'double', value });
export const bool = (value: boolean): ValueSpec => ({ kind: 'bool', value });
export const none: ValueSpec = { kind: 'none' };

/** Compiles the spec into .pte bytes. */
export function opProgram(spec: OpProgramSpec): Uint8Array {
  let plannedBytes = 0;
  const constantBuffers: { storage: number[] }[] = [{ storage: [] }];
  const values = spec.values.map((v) => {
    switch (v.kind) {
      case 'int':
        return { val_type: 'Int', val: { int_val: v.value } };
      case 'double':
        return { val_type: 'Double', val: { double_val: v.value } };
      case 'bool':
        return { val_type: 'Bool', val: { bool_val: v.value } };
      case 'none':
        return { val_type: 'Null', val: {} };
      default: {
        const tensor: Record<string, unknown> = {
          scalar_type: v.dtype,
          sizes: v.sizes,
          dim_order: v.sizes.map((_, i) => i),
        };
        if (v.kind === 'planned') {
          const size = ELEMENT_SIZE[v.dtype] * v.sizes.reduce((a, b) => a * b, 1);
          tensor.allocation_info = { memory_id: 1, memory_offset_low: plannedBytes };
          plannedBytes += Math.ceil(Math.max(size, 1) / 16) * 16;
        }
        if (v.kind === 'const') {
          tensor.data_buffer_idx = constantBuffers.length;
          constantBuffers.push({ storage: Array.from(v.bytes) });
        }
        if ((v.kind === 'input' || v.kind === 'planned') && v.dynamic) tensor.shape_dynamism = 'DYNAMIC_BOUND';
        return { val_type: 'Tensor', val: tensor };
      }
    }
  });
  const inputs = spec.inputs ?? spec.values.flatMap((v, i) => (v.kind === 'input' ? [i] : []));
  const ops: { name: string; overload: string }[] = [];
  const opIndex = (name: string, overload: string): number => {
    let k = ops.findIndex((o) => o.name === name && o.overload === overload);
    if (k < 0) {
      ops.push({ name, overload });
      k = ops.length - 1;
    }
    return k;
  };
  const instructions = spec.calls.map((c) => ({
    instr_args_type: 'KernelCall',
    instr_args: { op_index: opIndex(c.op, c.overload ?? 'out'), args: c.args },
  }));
  return compilePte({
    version: 0,
    execution_plan: [
      {
        name: 'forward',
        values,
        inputs,
        outputs: spec.outputs,
        chains: [{ instructions }],
        operators: ops,
        non_const_buffer_sizes: [0, plannedBytes],
      },
    ],
    ...(constantBuffers.length > 1 ? { constant_buffer: constantBuffers } : {}),
  });
}

/** Deterministic uniform numbers in [lo, hi) (mulberry32). */
export function rng(seed: number): (lo?: number, hi?: number) => number {
  let a = seed >>> 0;
  return (lo = -1, hi = 1) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return lo + (hi - lo) * u;
  };
}

/** max |a - b| / max |b| (b is the reference); NaN anywhere in a counts as infinite. */
export function relMaxError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let maxRef = 0;
  let maxDiff = 0;
  for (let i = 0; i < b.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(b[i]));
    const d = Math.abs(a[i] - b[i]);
    maxDiff = Number.isNaN(d) ? Infinity : Math.max(maxDiff, d);
  }
  return maxRef === 0 ? maxDiff : maxDiff / maxRef;
}
