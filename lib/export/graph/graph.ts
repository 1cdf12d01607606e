// The exporter's graph: a straight-line program of operator calls over tensor and
// symbolic-int values, in the order they will run. Model builders append nodes;
// passes (quantization, XNNPACK partitioning, memory planning) and the lowering to
// a ProgramSpec read it. Op names are ExecuTorch's ("aten::mm", overload "out").
import { ExecuTorchError } from '../../runtime/errors';
import { ByteSource, ScalarTypeName } from '../pte/program-spec';

export type DType = ScalarTypeName;

/** A dimension known only at run time (the sequence length), with its bounds. */
export interface SymDim {
  readonly sym: string;
  readonly max: number;
}
export type Dim = number | SymDim;
export type Shape = readonly Dim[];

export type TensorRole = 'input' | 'constant' | 'state' | 'activation';

export interface TensorValue {
  readonly kind: 'tensor';
  readonly id: number;
  readonly dtype: DType;
  readonly shape: Shape;
  readonly role: TensorRole;
  /** Constants: their bytes (little endian, contiguous). */
  readonly source?: ByteSource;
  /** For messages and debugging: 'layers.0.self_attn.q_proj.weight', 'k_cache.0'. */
  readonly name?: string;
  /** A weight of the checkpoint (quantization applies to these, not to the exporter's tables). */
  readonly fromCheckpoint?: boolean;
}

/** An int computed at run time (a tensor's size, a position read from a tensor). */
export interface SymIntValue {
  readonly kind: 'symint';
  readonly id: number;
  /** The symbolic dim it equals, when it is one (a size). */
  readonly dim?: SymDim;
  readonly name?: string;
}

export type Value = TensorValue | SymIntValue;

/** Operator arguments other than values. */
export type Arg =
  | { readonly value: number }
  | { readonly int: number }
  | { readonly float: number }
  | { readonly bool: boolean }
  | { readonly str: string }
  | { readonly none: true }
  /** Ints and symbolic ints (sizes, starts). */
  | { readonly ints: ReadonlyArray<number | SymIntValue> }
  | { readonly tensors: ReadonlyArray<number> };

export interface Node {
  /** 'aten::mm' */
  readonly op: string;
  /** 'out' */
  readonly overload: string;
  /** In schema order, without the outputs. */
  readonly args: readonly Arg[];
  /** Values the node writes, appended to the kernel call after the args. */
  readonly outputs: readonly number[];
  /** Extra facts for passes (e.g. how a linear is quantized). */
  readonly attrs?: Readonly<Record<string, unknown>>;
}

export const arg = {
  v: (x: Value): Arg => ({ value: x.id }),
  int: (n: number): Arg => ({ int: n }),
  float: (x: number): Arg => ({ float: x }),
  bool: (b: boolean): Arg => ({ bool: b }),
  str: (s: string): Arg => ({ str: s }),
  none: (): Arg => ({ none: true }),
  ints: (xs: ReadonlyArray<number | SymIntValue>): Arg => ({ ints: xs }),
  tensors: (xs: readonly TensorValue[]): Arg => ({ tensors: xs.map((t) => t.id) }),
};

/** Ids of the values a node reads (tensors, tensor lists and symbolic ints in int lists). */
export function nodeReads(n: Node): number[] {
  const ids: number[] = [];
  for (const a of n.args) {
    if ('value' in a) ids.push(a.value);
    else if ('tensors' in a) ids.push(...a.tensors);
    else if ('ints' in a) for (const x of a.ints) if (typeof x !== 'number') ids.push(x.id);
  }
  return ids;
}

export function isSym(d: Dim): d is SymDim {
  return typeof d !== 'number';
}

/** The largest value a dim takes. */
export function maxDim(d: Dim): number {
  return isSym(d) ? d.max : d;
}

export function maxNumel(shape: Shape): number {
  return shape.reduce<number>((n, d) => n * maxDim(d), 1);
}

export function sameDim(a: Dim, b: Dim): boolean {
  return isSym(a) || isSym(b) ? isSym(a) && isSym(b) && a.sym === b.sym : a === b;
}

export function shapeString(shape: Shape): string {
  return `[${shape.map((d) => (isSym(d) ? `${d.sym}<=${d.max}` : String(d))).join(', ')}]`;
}

const DTYPE_BYTES: Record<DType, number> = {
  uint8: 1, int8: 1, bool: 1, int16: 2, float16: 2, bfloat16: 2, int32: 4, float32: 4, int64: 8, float64: 8,
};

export function dtypeBytes(dtype: DType): number {
  return DTYPE_BYTES[dtype];
}

export class Graph {
  readonly values: Value[] = [];
  readonly nodes: Node[] = [];
  readonly inputs: TensorValue[] = [];
  outputs: Value[] = [];
  /** The run-time value of each symbolic dim (see bindSym). */
  private readonly syms = new Map<string, SymIntValue>();

  constructor(readonly name: string) {}

  /** Records which value holds a symbolic dim at run time (e.g. sym_size of an input). */
  bindSym(dim: SymDim, value: SymIntValue): void {
    this.syms.set(dim.sym, value);
  }

  /** A dim as an operator argument: the int, or the value holding the symbolic size. */
  dimArg(d: Dim): number | SymIntValue {
    if (!isSym(d)) return d;
    const v = this.syms.get(d.sym);
    if (!v) throw new ExecuTorchError('Internal', `graph ${this.name}: no value holds the size ${d.sym}`);
    return v;
  }

  input(name: string, dtype: DType, shape: Shape): TensorValue {
    const t = this.tensor(dtype, shape, 'input', { name });
    this.inputs.push(t);
    return t;
  }

  constant(name: string, dtype: DType, shape: Shape, source: ByteSource, fromCheckpoint = false): TensorValue {
    const bytes = maxNumel(shape) * dtypeBytes(dtype);
    if (shape.some(isSym)) throw new ExecuTorchError('Internal', `constant ${name} has a symbolic shape`);
    if (source.size !== bytes)
      throw new ExecuTorchError('Internal', `constant ${name} ${shapeString(shape)} ${dtype} needs ${bytes} bytes, got ${source.size}`);
    return this.tensor(dtype, shape, 'constant', { name, source, fromCheckpoint });
  }

  /** Mutable state kept across calls (KV caches); starts zeroed. */
  state(name: string, dtype: DType, shape: Shape): TensorValue {
    return this.tensor(dtype, shape, 'state', { name });
  }

  activation(dtype: DType, shape: Shape): TensorValue {
    return this.tensor(dtype, shape, 'activation', {});
  }

  symint(dim?: SymDim, name?: string): SymIntValue {
    const v: SymIntValue = { kind: 'symint', id: this.values.length, dim, name };
    this.values.push(v);
    return v;
  }

  /** Appends a call; returns its first output for convenience. */
  call<T extends Value>(op: string, overload: string, args: Arg[], outputs: T[], attrs?: Record<string, unknown>): T {
    this.nodes.push({ op, overload, args, outputs: outputs.map((o) => o.id), attrs });
    return outputs[0];
  }

  tensorById(id: number): TensorValue {
    const v = this.values[id];
    if (v?.kind !== 'tensor') throw new ExecuTorchError('Internal', `value ${id} of graph ${this.name} is not a tensor`);
    return v;
  }

  private tensor(
    dtype: DType,
    shape: Shape,
    role: TensorRole,
    extra: { name?: string; source?: ByteSource; fromCheckpoint?: boolean },
  ): TensorValue {
    const t: TensorValue = { kind: 'tensor', id: this.values.length, dtype, shape: [...shape], role, ...extra };
    this.values.push(t);
    return t;
  }
}
