// What the exporter hands to the .pte writer: a program at the level of the
// ExecuTorch schema (native/schema/program.fbs), with readable names instead of
// flatbuffer unions and with large byte blobs as lazy sources, so the writer can
// stream weights to disk without holding them all in memory.
//
// Indices follow the schema: instruction arguments, method inputs/outputs and
// tensor-list items are indices into the method's `values`; `op` indexes the
// method's `operators`, `delegate` its `delegates`; `constant` indexes
// `ProgramSpec.constants`, whose entry 0 is reserved (the schema's "no data").

/** ScalarType names as the runtime's Tensor uses them. */
export type ScalarTypeName =
  | 'uint8'
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'float16'
  | 'float32'
  | 'float64'
  | 'bool'
  | 'bfloat16';

/**
 * Bytes produced on demand (at write time), with their length known up front. `read`
 * may be async (a weight read from a checkpoint and quantized); the writer awaits it
 * and reads each source once.
 */
export interface ByteSource {
  readonly size: number;
  read(): Uint8Array | Promise<Uint8Array>;
}

export interface TensorSpec {
  dtype: ScalarTypeName;
  /** Sizes; for a dynamic tensor, its upper bound. */
  sizes: number[];
  /** Default: contiguous (0, 1, ..., rank - 1). */
  dimOrder?: number[];
  /** Default 'static'. */
  dynamism?: 'static' | 'dynamic_bound';
  /** Constant data: index into ProgramSpec.constants (> 0). */
  constant?: number;
  /** Memory-planned: buffer `memoryId` (>= 1) of the method's nonConstBufferSizes, at `offset` bytes. */
  allocation?: { memoryId: number; offset: number };
  /**
   * A mutable buffer (KV cache) with initial contents (mutable_data_segments). The name
   * goes to extra_tensor_info.fully_qualified_name; '' writes none (as exports without
   * emit_mutable_buffer_names do).
   */
  mutableData?: { source: ByteSource; fullyQualifiedName: string };
}

export type EValueSpec =
  | { kind: 'null' }
  | { kind: 'int'; value: number | bigint }
  | { kind: 'bool'; value: boolean }
  | { kind: 'double'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'tensor'; tensor: TensorSpec }
  /**
   * Items are indices of Int values in the method's `values` (that is how the schema's
   * IntList works: an item may be a symbolic size computed at run time), not the ints.
   */
  | { kind: 'intList'; items: number[] }
  | { kind: 'doubleList'; items: number[] }
  | { kind: 'boolList'; items: boolean[] }
  | { kind: 'tensorList'; items: number[] }
  /** -1 for a None item. */
  | { kind: 'optionalTensorList'; items: number[] };

export type InstructionSpec =
  | { kind: 'kernel'; op: number; args: number[] }
  | { kind: 'delegate'; delegate: number; args: number[] }
  | { kind: 'move'; from: number; to: number }
  | { kind: 'jumpFalse'; cond: number; destination: number }
  | { kind: 'free'; value: number };

export interface ChainSpec {
  inputs: number[];
  outputs: number[];
  instructions: InstructionSpec[];
}

export interface OperatorSpec {
  /** e.g. 'aten::add' */
  name: string;
  /** e.g. 'out' */
  overload: string;
}

export interface DelegateSpec {
  /** Backend id, e.g. 'XnnpackBackend'. */
  id: string;
  /** The processed payload; written to a segment. */
  payload: ByteSource;
  compileSpecs?: Array<{ key: string; value: Uint8Array }>;
}

export interface MethodSpec {
  name: string;
  values: EValueSpec[];
  inputs: number[];
  outputs: number[];
  chains: ChainSpec[];
  operators: OperatorSpec[];
  delegates: DelegateSpec[];
  /** Bytes of each planned buffer; entry 0 is reserved and must be 0. */
  nonConstBufferSizes: number[];
  /**
   * The pytree specs of the inputs and outputs (ExecutionPlan.container_meta_type), as
   * torch's treespec_dumps writes them. Optional: the writer derives torch.export's
   * spec for positional inputs and a tuple of outputs (constant methods: '' for the
   * inputs). Runtimes do not read it; Python tools that unflatten outputs do.
   */
  containerMeta?: { encodedInpStr: string; encodedOutStr: string };
}

/** Data a delegate refers to by key (weights of XNNPACK payloads), stored once per key. */
export interface NamedDataSpec {
  key: string;
  source: ByteSource;
}

export interface ProgramSpec {
  methods: MethodSpec[];
  /** Constant tensor data (the constant segment); entry 0 is reserved and ignored. */
  constants: ByteSource[];
  namedData: NamedDataSpec[];
}

/** A ByteSource over bytes already in memory. */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, read: () => bytes };
}
