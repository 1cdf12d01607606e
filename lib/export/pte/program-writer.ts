// ProgramSpec -> .pte, as the official serializer (exir/_serialize/_program.py,
// serialize_pte_binary with extract_delegate_segments=True) lays it out:
//
//   [0, program_size)  the Program flatbuffer (identifier ET12) with the 32-byte eh00
//                      header inserted after the identifier (only when segment data exists)
//   zero padding up to segment_base_offset = align(program_size, 128)
//   the segments, each at align(previous end, lcm(128, its alignment)) relative to
//   segment_base_offset, in this order:
//     1. constant tensor data (one segment; constant_segment.offsets[i] per constant,
//        each constant padded to 16 bytes except the last, entry 0 reserved)
//     2. initial contents of mutable tensors (mutable_data_segments[0], no padding)
//     3. one segment per delegate payload (the same ByteSource object twice: once)
//     4. one segment per named-data key (NamedData entries point at it)
//
// The layout is computed from ByteSource sizes before anything is written, so the
// writer streams: the flatbuffer, then every source read once, in order.
import * as flatbuffers from 'flatbuffers';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { ExecuTorchError } from '../../runtime/errors';
import * as fb from './generated/program_generated';
import { ScalarType } from './generated/scalar_type_generated';
import {
  alignUp,
  CONSTANT_TENSOR_ALIGNMENT,
  extendedHeaderBytes,
  lcm,
  NAMED_DATA_ALIGNMENT,
  PADDED_EXTENDED_HEADER_LENGTH,
  paddingRequired,
  PROGRAM_IDENTIFIER,
  PROGRAM_VERSION,
  SEGMENT_ALIGNMENT,
} from './layout';
import type {
  ByteSource,
  ChainSpec,
  DelegateSpec,
  EValueSpec,
  InstructionSpec,
  MethodSpec,
  ProgramSpec,
  ScalarTypeName,
  TensorSpec,
} from './program-spec';

export interface WriteProgramOptions {
  /** Alignment of every segment (default 128, the official serializer's). */
  segmentAlignment?: number;
  /** Alignment of each constant in the constant segment (default 16). */
  constantAlignment?: number;
  /** Alignment asked for named data (default 16, as the XNNPACK writer asks); the segment gets lcm(segment, this). */
  namedDataAlignment?: number;
  /** File output only: write to a temporary file in the same folder and rename it at the end (default true). */
  atomic?: boolean;
  /** Called after each chunk written: bytes so far and the file's final size. */
  onProgress?: (written: number, total: number) => void;
}

export type SegmentKind = 'constant' | 'mutable' | 'delegate' | 'namedData';

export interface SegmentLayout {
  kind: SegmentKind;
  /** Relative to segmentBaseOffset. */
  offset: number;
  /** Unpadded bytes. */
  size: number;
  /** What it holds: 'constants', 'mutable data', 'forward delegate 0', or the named-data key. */
  label: string;
}

/** Where everything goes; known before a byte is written. */
export interface ProgramLayout {
  /** Bytes of the flatbuffer including the inserted header (eh00 program_size). */
  programSize: number;
  /** Whether the eh00 header is present (only when there is segment data). */
  extendedHeader: boolean;
  /** File offset of the first segment (0 without segment data). */
  segmentBaseOffset: number;
  /** Bytes from the first segment's start to the last one's end. */
  segmentDataSize: number;
  fileSize: number;
  segments: SegmentLayout[];
  /** constant_segment.offsets (entry 0 reserved). */
  constantOffsets: number[];
  /** Named data entries as written: key -> segment index. */
  namedData: Array<{ key: string; segmentIndex: number }>;
}

// ---------------------------------------------------------------------------
// Planning

const SCALAR_TYPES: Record<ScalarTypeName, ScalarType> = {
  uint8: ScalarType.BYTE,
  int8: ScalarType.CHAR,
  int16: ScalarType.SHORT,
  int32: ScalarType.INT,
  int64: ScalarType.LONG,
  float16: ScalarType.HALF,
  float32: ScalarType.FLOAT,
  float64: ScalarType.DOUBLE,
  bool: ScalarType.BOOL,
  bfloat16: ScalarType.BFLOAT16,
};

const ELEMENT_SIZE: Record<ScalarTypeName, number> = {
  uint8: 1, int8: 1, int16: 2, int32: 4, int64: 8, float16: 2, float32: 4, float64: 8, bool: 1, bfloat16: 2,
};

export function tensorNbytes(t: Pick<TensorSpec, 'dtype' | 'sizes'>): number {
  return t.sizes.reduce((a, b) => a * b, 1) * ELEMENT_SIZE[t.dtype];
}

interface SegmentPlan extends SegmentLayout {
  alignment: number;
  /** constant / mutable: the sub-buffers (index 0 is the empty placeholder); else one source. */
  parts: ByteSource[];
  /** Padding after each part but the last. */
  partAlignment: number;
}

interface Plan {
  layout: ProgramLayout;
  segments: SegmentPlan[];
  /** (method, value) -> mutable buffer index. */
  mutableIndex: Map<string, number>;
  /** (method, delegate) -> data reference. */
  delegateRef: Map<string, { location: fb.DataLocation; index: number }>;
  inlineDelegateCount: number;
  mutableSegmentIndex: number;
  constantSegmentIndex: number;
}

const EMPTY: ByteSource = { size: 0, read: () => new Uint8Array(0) };

function bad(message: string): never {
  throw new ExecuTorchError('InvalidArgument', `writeProgram: ${message}`);
}

function planProgramInternal(spec: ProgramSpec, opts: WriteProgramOptions): Plan {
  validateProgram(spec);
  const segAlign = opts.segmentAlignment ?? SEGMENT_ALIGNMENT;
  const constAlign = opts.constantAlignment ?? CONSTANT_TENSOR_ALIGNMENT;
  const namedAlign = opts.namedDataAlignment ?? NAMED_DATA_ALIGNMENT;
  const segments: SegmentPlan[] = [];
  const add = (s: Omit<SegmentPlan, 'offset'>): number => {
    segments.push({ ...s, offset: 0 });
    return segments.length - 1;
  };

  // 1. Constants: always a segment (maybe empty), as the official writer does.
  const constants = [EMPTY, ...spec.constants.slice(1)];
  const constantOffsets: number[] = [];
  let cur = 0;
  constants.forEach((c, i) => {
    constantOffsets.push(cur);
    const pad = paddingRequired(c.size, constAlign);
    cur += c.size + pad;
    if (i === constants.length - 1) cur -= pad;
  });
  const constantSegmentIndex = add({ kind: 'constant', size: cur, label: 'constants', alignment: 1, parts: constants, partAlignment: constAlign });

  // 2. Mutable data.
  const mutableParts: ByteSource[] = [EMPTY];
  const mutableIndex = new Map<string, number>();
  spec.methods.forEach((m, mi) =>
    m.values.forEach((v, vi) => {
      if (v.kind === 'tensor' && v.tensor.mutableData) {
        mutableIndex.set(`${mi}/${vi}`, mutableParts.length);
        mutableParts.push(v.tensor.mutableData.source);
      }
    }),
  );
  let mutableSegmentIndex = -1;
  if (mutableParts.length > 1) {
    const size = mutableParts.reduce((a, p) => a + p.size, 0);
    mutableSegmentIndex = add({ kind: 'mutable', size, label: 'mutable data', alignment: 1, parts: mutableParts, partAlignment: 1 });
  }

  // 3. Delegate payloads: one segment each; empty payloads stay inline (as the official writer does).
  const delegateRef = new Map<string, { location: fb.DataLocation; index: number }>();
  const bySource = new Map<ByteSource, number>();
  let inlineDelegateCount = 0;
  spec.methods.forEach((m, mi) =>
    m.delegates.forEach((d, di) => {
      if (d.payload.size === 0) {
        delegateRef.set(`${mi}/${di}`, { location: fb.DataLocation.INLINE, index: inlineDelegateCount++ });
        return;
      }
      let index = bySource.get(d.payload);
      if (index === undefined) {
        index = add({ kind: 'delegate', size: d.payload.size, label: `${m.name} delegate ${di} (${d.id})`, alignment: 1, parts: [d.payload], partAlignment: 1 });
        bySource.set(d.payload, index);
      }
      delegateRef.set(`${mi}/${di}`, { location: fb.DataLocation.SEGMENT, index });
    }),
  );

  // 4. Named data: one segment per key (and per distinct source).
  const namedData: Array<{ key: string; segmentIndex: number }> = [];
  const byKey = new Map<string, { size: number; segmentIndex: number }>();
  const namedBySource = new Map<ByteSource, number>();
  for (const nd of spec.namedData) {
    if (typeof nd.key !== 'string' || nd.key.length === 0) bad('named data with an empty key');
    const seen = byKey.get(nd.key);
    if (seen) {
      if (seen.size !== nd.source.size)
        bad(`named data '${nd.key}' is given twice with different sizes (${seen.size} and ${nd.source.size} bytes)`);
      continue;
    }
    let segmentIndex = namedBySource.get(nd.source);
    if (segmentIndex === undefined) {
      segmentIndex = add({ kind: 'namedData', size: nd.source.size, label: nd.key, alignment: namedAlign, parts: [nd.source], partAlignment: 1 });
      namedBySource.set(nd.source, segmentIndex);
    }
    byKey.set(nd.key, { size: nd.source.size, segmentIndex });
    namedData.push({ key: nd.key, segmentIndex });
  }

  // Offsets.
  let end = 0;
  for (const s of segments) {
    s.offset = alignUp(end, lcm(segAlign, s.alignment));
    end = s.offset + s.size;
  }
  for (const s of segments)
    if (!Number.isSafeInteger(s.offset + s.size)) bad(`segment '${s.label}' lies beyond 2^53 bytes`);
  const segmentDataSize = end;

  const layout: ProgramLayout = {
    programSize: 0,
    extendedHeader: segmentDataSize > 0,
    segmentBaseOffset: 0,
    segmentDataSize,
    fileSize: 0,
    segments: segments.map(({ kind, offset, size, label }) => ({ kind, offset, size, label })),
    constantOffsets,
    namedData,
  };
  return { layout, segments, mutableIndex, delegateRef, inlineDelegateCount, mutableSegmentIndex, constantSegmentIndex };
}

// ---------------------------------------------------------------------------
// Validation: a malformed spec fails here with a message naming the method and value,
// not later in a runtime.

function validateProgram(spec: ProgramSpec): void {
  if (!spec || !Array.isArray(spec.methods) || spec.methods.length === 0) bad('the program has no methods');
  const names = new Set<string>();
  for (const m of spec.methods) {
    if (typeof m.name !== 'string' || m.name.length === 0) bad('a method has no name');
    if (names.has(m.name)) bad(`method '${m.name}' is defined twice`);
    names.add(m.name);
    validateMethod(spec, m);
  }
  spec.constants.forEach((c, i) => {
    if (i > 0 && !(Number.isSafeInteger(c.size) && c.size >= 0)) bad(`constant ${i} has size ${c.size}`);
  });
  for (const nd of spec.namedData)
    if (!(Number.isSafeInteger(nd.source.size) && nd.source.size >= 0)) bad(`named data '${nd.key}' has size ${nd.source.size}`);
}

function validateMethod(spec: ProgramSpec, m: MethodSpec): void {
  const where = (s: string): string => `method '${m.name}': ${s}`;
  const n = m.values.length;
  const isIndex = (i: number): boolean => Number.isInteger(i) && i >= 0 && i < n;
  const checkIndex = (i: number, what: string): void => {
    if (!isIndex(i)) bad(where(`${what} refers to value ${i} (the method has ${n} values)`));
  };
  if (!Array.isArray(m.nonConstBufferSizes) || m.nonConstBufferSizes.length === 0 || m.nonConstBufferSizes[0] !== 0)
    bad(where('nonConstBufferSizes must start with the reserved entry 0'));
  m.nonConstBufferSizes.forEach((s, i) => {
    if (!(Number.isSafeInteger(s) && s >= 0)) bad(where(`planned buffer ${i} has size ${s}`));
  });
  m.values.forEach((v, i) => validateValue(spec, m, v, i, where, checkIndex));
  m.inputs.forEach((i) => checkIndex(i, 'an input'));
  m.outputs.forEach((i) => checkIndex(i, 'an output'));
  m.chains.forEach((c, ci) => validateChain(m, c, ci, where, checkIndex));
  m.operators.forEach((op, i) => {
    if (typeof op.name !== 'string' || op.name.length === 0) bad(where(`operator ${i} has no name`));
    if (typeof op.overload !== 'string') bad(where(`operator ${i} (${op.name}) has no overload string ('' for .default)`));
  });
  m.delegates.forEach((d, i) => {
    if (typeof d.id !== 'string' || d.id.length === 0) bad(where(`delegate ${i} has no backend id`));
    if (!(Number.isSafeInteger(d.payload.size) && d.payload.size >= 0)) bad(where(`delegate ${i} payload has size ${d.payload.size}`));
  });
}

function validateValue(
  spec: ProgramSpec,
  m: MethodSpec,
  v: EValueSpec,
  i: number,
  where: (s: string) => string,
  checkIndex: (i: number, what: string) => void,
): void {
  const what = `value ${i}`;
  switch (v.kind) {
    case 'null':
    case 'bool':
    case 'string':
    case 'doubleList':
    case 'boolList':
      return;
    case 'double':
      if (typeof v.value !== 'number') bad(where(`${what} is a double without a number`));
      return;
    case 'int':
      if (typeof v.value === 'number' && !Number.isSafeInteger(v.value))
        bad(where(`${what} is an int of ${v.value} (not a safe integer: pass a bigint)`));
      if (typeof v.value === 'bigint' && (v.value < -(2n ** 63n) || v.value >= 2n ** 63n)) bad(where(`${what} does not fit int64`));
      return;
    case 'intList':
      v.items.forEach((it) => {
        checkIndex(it, `${what} (IntList)`);
        if (m.values[it].kind !== 'int') bad(where(`${what} (IntList) item ${it} is a ${m.values[it].kind}, not an Int value`));
      });
      return;
    case 'tensorList':
      v.items.forEach((it) => {
        checkIndex(it, `${what} (TensorList)`);
        if (m.values[it].kind !== 'tensor') bad(where(`${what} (TensorList) item ${it} is a ${m.values[it].kind}, not a tensor`));
      });
      return;
    case 'optionalTensorList':
      v.items.forEach((it) => {
        if (it === -1) return;
        checkIndex(it, `${what} (OptionalTensorList)`);
        const k = m.values[it].kind;
        if (k !== 'tensor' && k !== 'null') bad(where(`${what} (OptionalTensorList) item ${it} is a ${k}`));
      });
      return;
    case 'tensor':
      validateTensor(spec, m, v.tensor, `${what}`, where);
      return;
    default:
      bad(where(`${what} has unknown kind '${(v as { kind: string }).kind}'`));
  }
}

function validateTensor(spec: ProgramSpec, m: MethodSpec, t: TensorSpec, what: string, where: (s: string) => string): void {
  if (!(t.dtype in SCALAR_TYPES)) bad(where(`${what} has unknown dtype '${t.dtype}'`));
  if (!Array.isArray(t.sizes) || t.sizes.some((s) => !Number.isInteger(s) || s < 0 || s > 0x7fffffff))
    bad(where(`${what} has bad sizes [${t.sizes}]`));
  if (t.dimOrder) {
    const seen = new Set(t.dimOrder);
    if (t.dimOrder.length !== t.sizes.length || seen.size !== t.sizes.length || t.dimOrder.some((d) => !(d >= 0 && d < t.sizes.length)))
      bad(where(`${what} dimOrder [${t.dimOrder}] is not a permutation of its ${t.sizes.length} dims`));
  }
  if (t.dynamism !== undefined && t.dynamism !== 'static' && t.dynamism !== 'dynamic_bound')
    bad(where(`${what} has dynamism '${t.dynamism}' (static or dynamic_bound)`));
  const nbytes = tensorNbytes(t);
  if (t.constant !== undefined) {
    if (!Number.isInteger(t.constant) || t.constant < 1 || t.constant >= spec.constants.length)
      bad(where(`${what} uses constant ${t.constant} (constants 1..${spec.constants.length - 1} exist)`));
    if (t.allocation) bad(where(`${what} is both constant and memory-planned`));
    const have = spec.constants[t.constant].size;
    if (have < nbytes) bad(where(`${what} needs ${nbytes} bytes, constant ${t.constant} has ${have}`));
  }
  if (t.allocation) {
    const { memoryId, offset } = t.allocation;
    if (!Number.isInteger(memoryId) || memoryId < 1 || memoryId >= m.nonConstBufferSizes.length)
      bad(where(`${what} uses memory_id ${memoryId} (the method plans buffers 1..${m.nonConstBufferSizes.length - 1})`));
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + nbytes > m.nonConstBufferSizes[memoryId])
      bad(where(`${what} (${nbytes} bytes at offset ${offset}) overruns planned buffer ${memoryId} (${m.nonConstBufferSizes[memoryId]} bytes)`));
  }
  if (t.mutableData) {
    if (!t.allocation) bad(where(`${what} has initial mutable data but no memory plan`));
    if (t.mutableData.source.size !== nbytes)
      bad(where(`${what} initial data has ${t.mutableData.source.size} bytes, the tensor ${nbytes}`));
  }
}

function validateChain(
  m: MethodSpec,
  c: ChainSpec,
  ci: number,
  where: (s: string) => string,
  checkIndex: (i: number, what: string) => void,
): void {
  c.inputs.forEach((i) => checkIndex(i, `chain ${ci} input`));
  c.outputs.forEach((i) => checkIndex(i, `chain ${ci} output`));
  c.instructions.forEach((ins, k) => {
    const what = `chain ${ci} instruction ${k}`;
    switch (ins.kind) {
      case 'kernel':
        if (!Number.isInteger(ins.op) || ins.op < 0 || ins.op >= m.operators.length)
          bad(where(`${what} calls operator ${ins.op} (the method has ${m.operators.length})`));
        ins.args.forEach((a) => checkIndex(a, `${what} (${m.operators[ins.op].name}) argument`));
        return;
      case 'delegate':
        if (!Number.isInteger(ins.delegate) || ins.delegate < 0 || ins.delegate >= m.delegates.length)
          bad(where(`${what} calls delegate ${ins.delegate} (the method has ${m.delegates.length})`));
        ins.args.forEach((a) => checkIndex(a, `${what} argument`));
        return;
      case 'move':
        checkIndex(ins.from, `${what} (move from)`);
        checkIndex(ins.to, `${what} (move to)`);
        return;
      case 'jumpFalse':
        checkIndex(ins.cond, `${what} (condition)`);
        if (!Number.isInteger(ins.destination) || ins.destination < 0 || ins.destination > c.instructions.length)
          bad(where(`${what} jumps to instruction ${ins.destination} of ${c.instructions.length}`));
        return;
      case 'free':
        checkIndex(ins.value, `${what} (free)`);
        return;
      default:
        bad(where(`${what} has unknown kind '${(ins as { kind: string }).kind}'`));
    }
  });
}

// ---------------------------------------------------------------------------
// The flatbuffer

const LEAF = '{"type": null, "context": null, "children_spec": []}';
const tupleSpec = (children: string[]): string =>
  `{"type": "builtins.tuple", "context": "null", "children_spec": [${children.join(', ')}]}`;

/**
 * The pytree specs torch.export would give a method of positional inputs and a tuple of
 * outputs (constant methods: no input spec), for methods the spec gives none.
 */
export function defaultContainerMeta(m: Pick<MethodSpec, 'inputs' | 'outputs' | 'chains'>): { encodedInpStr: string; encodedOutStr: string } {
  const constant = m.inputs.length === 0 && m.chains.every((c) => c.instructions.length === 0);
  const inp = constant
    ? ''
    : `[1, ${tupleSpec([tupleSpec(m.inputs.map(() => LEAF)), '{"type": "builtins.dict", "context": "[]", "children_spec": []}'])}]`;
  const out = m.outputs.length === 1 ? `[1, ${LEAF}]` : `[1, ${tupleSpec(m.outputs.map(() => LEAF))}]`;
  return { encodedInpStr: inp, encodedOutStr: out };
}

function buildFlatbuffer(spec: ProgramSpec, plan: Plan): Uint8Array {
  const b = new flatbuffers.Builder(64 * 1024);
  const plans = spec.methods.map((m, mi) => buildMethod(b, m, mi, plan));
  const executionPlan = fb.Program.createExecutionPlanVector(b, plans);
  const constantBuffer = fb.Program.createConstantBufferVector(b, []);
  const inline: number[] = [];
  for (let i = 0; i < plan.inlineDelegateCount; i++) {
    const data = fb.BackendDelegateInlineData.createDataVector(b, new Uint8Array(0));
    inline.push(fb.BackendDelegateInlineData.createBackendDelegateInlineData(b, data));
  }
  const backendDelegateData = fb.Program.createBackendDelegateDataVector(b, inline);
  const segments = fb.Program.createSegmentsVector(
    b,
    plan.segments.map((s) => fb.DataSegment.createDataSegment(b, BigInt(s.offset), BigInt(s.size))),
  );
  const constantSegment = fb.SubsegmentOffsets.createSubsegmentOffsets(
    b,
    plan.constantSegmentIndex,
    fb.SubsegmentOffsets.createOffsetsVector(b, plan.layout.constantOffsets.map(BigInt)),
  );
  let mutableDataSegments = 0;
  if (plan.mutableSegmentIndex >= 0) {
    const parts = plan.segments[plan.mutableSegmentIndex].parts;
    const offsets: bigint[] = [];
    let cur = 0;
    for (const p of parts) {
      offsets.push(BigInt(cur));
      cur += p.size;
    }
    const sub = fb.SubsegmentOffsets.createSubsegmentOffsets(b, plan.mutableSegmentIndex, fb.SubsegmentOffsets.createOffsetsVector(b, offsets));
    mutableDataSegments = fb.Program.createMutableDataSegmentsVector(b, [sub]);
  }
  const namedData = fb.Program.createNamedDataVector(
    b,
    plan.layout.namedData.map((nd) => fb.NamedData.createNamedData(b, b.createString(nd.key), nd.segmentIndex)),
  );
  fb.Program.startProgram(b);
  fb.Program.addVersion(b, PROGRAM_VERSION);
  fb.Program.addExecutionPlan(b, executionPlan);
  fb.Program.addConstantBuffer(b, constantBuffer);
  fb.Program.addBackendDelegateData(b, backendDelegateData);
  fb.Program.addSegments(b, segments);
  fb.Program.addConstantSegment(b, constantSegment);
  if (mutableDataSegments) fb.Program.addMutableDataSegments(b, mutableDataSegments);
  fb.Program.addNamedData(b, namedData);
  const root = fb.Program.endProgram(b);
  b.finish(root, PROGRAM_IDENTIFIER);
  return b.asUint8Array();
}

function buildMethod(b: flatbuffers.Builder, m: MethodSpec, mi: number, plan: Plan): number {
  const name = b.createString(m.name);
  const meta = m.containerMeta ?? defaultContainerMeta(m);
  const container = fb.ContainerMetadata.createContainerMetadata(b, b.createString(meta.encodedInpStr), b.createString(meta.encodedOutStr));
  const values = fb.ExecutionPlan.createValuesVector(
    b,
    m.values.map((v, vi) => buildEValue(b, v, plan.mutableIndex.get(`${mi}/${vi}`) ?? 0)),
  );
  const inputs = fb.ExecutionPlan.createInputsVector(b, m.inputs);
  const outputs = fb.ExecutionPlan.createOutputsVector(b, m.outputs);
  const chains = fb.ExecutionPlan.createChainsVector(b, m.chains.map((c) => buildChain(b, c)));
  const operators = fb.ExecutionPlan.createOperatorsVector(
    b,
    m.operators.map((op) => fb.Operator.createOperator(b, b.createString(op.name), b.createString(op.overload))),
  );
  const delegates = fb.ExecutionPlan.createDelegatesVector(
    b,
    m.delegates.map((d, di) => buildDelegate(b, d, plan.delegateRef.get(`${mi}/${di}`)!)),
  );
  const bufferSizes = fb.ExecutionPlan.createNonConstBufferSizesVector(b, m.nonConstBufferSizes.map(BigInt));
  fb.ExecutionPlan.startExecutionPlan(b);
  fb.ExecutionPlan.addName(b, name);
  fb.ExecutionPlan.addContainerMetaType(b, container);
  fb.ExecutionPlan.addValues(b, values);
  fb.ExecutionPlan.addInputs(b, inputs);
  fb.ExecutionPlan.addOutputs(b, outputs);
  fb.ExecutionPlan.addChains(b, chains);
  fb.ExecutionPlan.addOperators(b, operators);
  fb.ExecutionPlan.addDelegates(b, delegates);
  fb.ExecutionPlan.addNonConstBufferSizes(b, bufferSizes);
  return fb.ExecutionPlan.endExecutionPlan(b);
}

function buildDelegate(b: flatbuffers.Builder, d: DelegateSpec, ref: { location: fb.DataLocation; index: number }): number {
  const id = b.createString(d.id);
  const processed = fb.BackendDelegateDataReference.createBackendDelegateDataReference(b, ref.location, ref.index);
  const specs = fb.BackendDelegate.createCompileSpecsVector(
    b,
    (d.compileSpecs ?? []).map((cs) =>
      fb.CompileSpec.createCompileSpec(b, b.createString(cs.key), fb.CompileSpec.createValueVector(b, cs.value)),
    ),
  );
  fb.BackendDelegate.startBackendDelegate(b);
  fb.BackendDelegate.addId(b, id);
  fb.BackendDelegate.addProcessed(b, processed);
  fb.BackendDelegate.addCompileSpecs(b, specs);
  return fb.BackendDelegate.endBackendDelegate(b);
}

function buildChain(b: flatbuffers.Builder, c: ChainSpec): number {
  const inputs = fb.Chain.createInputsVector(b, c.inputs);
  const outputs = fb.Chain.createOutputsVector(b, c.outputs);
  const instructions = fb.Chain.createInstructionsVector(b, c.instructions.map((ins) => buildInstruction(b, ins)));
  fb.Chain.startChain(b);
  fb.Chain.addInputs(b, inputs);
  fb.Chain.addOutputs(b, outputs);
  fb.Chain.addInstructions(b, instructions);
  return fb.Chain.endChain(b);
}

function buildInstruction(b: flatbuffers.Builder, ins: InstructionSpec): number {
  let type: fb.InstructionArguments;
  let args: number;
  switch (ins.kind) {
    case 'kernel':
      type = fb.InstructionArguments.KernelCall;
      args = fb.KernelCall.createKernelCall(b, ins.op, fb.KernelCall.createArgsVector(b, ins.args));
      break;
    case 'delegate':
      type = fb.InstructionArguments.DelegateCall;
      args = fb.DelegateCall.createDelegateCall(b, ins.delegate, fb.DelegateCall.createArgsVector(b, ins.args));
      break;
    case 'move':
      type = fb.InstructionArguments.MoveCall;
      args = fb.MoveCall.createMoveCall(b, ins.from, ins.to);
      break;
    case 'jumpFalse':
      type = fb.InstructionArguments.JumpFalseCall;
      args = fb.JumpFalseCall.createJumpFalseCall(b, ins.cond, ins.destination);
      break;
    case 'free':
      type = fb.InstructionArguments.FreeCall;
      args = fb.FreeCall.createFreeCall(b, ins.value);
      break;
  }
  return fb.Instruction.createInstruction(b, type, args);
}

function buildEValue(b: flatbuffers.Builder, v: EValueSpec, mutableIndex: number): number {
  let type: fb.KernelTypes;
  let val: number;
  switch (v.kind) {
    case 'null':
      type = fb.KernelTypes.Null;
      fb.Null.startNull(b);
      val = fb.Null.endNull(b);
      break;
    case 'int':
      type = fb.KernelTypes.Int;
      val = fb.Int.createInt(b, BigInt(v.value));
      break;
    case 'bool':
      type = fb.KernelTypes.Bool;
      val = fb.Bool.createBool(b, v.value);
      break;
    case 'double':
      type = fb.KernelTypes.Double;
      // Forced so that -0.0 survives (the default 0.0 would drop it).
      b.forceDefaults(true);
      val = fb.Double.createDouble(b, v.value);
      b.forceDefaults(false);
      break;
    case 'string':
      type = fb.KernelTypes.String;
      val = fb.String.createString(b, b.createString(v.value));
      break;
    case 'tensor':
      type = fb.KernelTypes.Tensor;
      val = buildTensor(b, v.tensor, mutableIndex);
      break;
    case 'intList':
      type = fb.KernelTypes.IntList;
      val = fb.IntList.createIntList(b, fb.IntList.createItemsVector(b, v.items.map(BigInt)));
      break;
    case 'doubleList':
      type = fb.KernelTypes.DoubleList;
      val = fb.DoubleList.createDoubleList(b, fb.DoubleList.createItemsVector(b, v.items));
      break;
    case 'boolList':
      type = fb.KernelTypes.BoolList;
      val = fb.BoolList.createBoolList(b, fb.BoolList.createItemsVector(b, v.items));
      break;
    case 'tensorList':
      type = fb.KernelTypes.TensorList;
      val = fb.TensorList.createTensorList(b, fb.TensorList.createItemsVector(b, v.items));
      break;
    case 'optionalTensorList':
      type = fb.KernelTypes.OptionalTensorList;
      val = fb.OptionalTensorList.createOptionalTensorList(b, fb.OptionalTensorList.createItemsVector(b, v.items));
      break;
  }
  return fb.EValue.createEValue(b, type, val);
}

function buildTensor(b: flatbuffers.Builder, t: TensorSpec, mutableIndex: number): number {
  const sizes = fb.Tensor.createSizesVector(b, t.sizes);
  const dimOrder = fb.Tensor.createDimOrderVector(b, t.dimOrder ?? t.sizes.map((_, i) => i));
  let extra = 0;
  if (t.mutableData && t.mutableData.fullyQualifiedName) {
    const fqn = b.createString(t.mutableData.fullyQualifiedName);
    extra = fb.ExtraTensorInfo.createExtraTensorInfo(b, 0n, fqn, fb.TensorDataLocation.SEGMENT, fb.DeviceType.CPU, 0);
  }
  let alloc = 0;
  if (t.allocation) {
    const off = t.allocation.offset;
    alloc = fb.AllocationDetails.createAllocationDetails(b, t.allocation.memoryId, off % 2 ** 32, Math.floor(off / 2 ** 32));
  }
  fb.Tensor.startTensor(b);
  fb.Tensor.addScalarType(b, SCALAR_TYPES[t.dtype]);
  fb.Tensor.addStorageOffset(b, 0);
  fb.Tensor.addSizes(b, sizes);
  fb.Tensor.addDimOrder(b, dimOrder);
  fb.Tensor.addRequiresGrad(b, false);
  fb.Tensor.addDataBufferIdx(b, t.constant ?? (t.mutableData ? mutableIndex : 0));
  if (alloc) fb.Tensor.addAllocationInfo(b, alloc);
  fb.Tensor.addLayout(b, 0);
  fb.Tensor.addShapeDynamism(b, t.dynamism === 'dynamic_bound' ? fb.TensorShapeDynamism.DYNAMIC_BOUND : fb.TensorShapeDynamism.STATIC);
  if (extra) fb.Tensor.addExtraTensorInfo(b, extra);
  return fb.Tensor.endTensor(b);
}

// ---------------------------------------------------------------------------
// Layout + flatbuffer + header

interface Prepared {
  plan: Plan;
  /** The flatbuffer with the eh00 header inserted (when there is segment data). */
  program: Uint8Array;
}

function prepare(spec: ProgramSpec, opts: WriteProgramOptions): Prepared {
  const plan = planProgramInternal(spec, opts);
  const flat = buildFlatbuffer(spec, plan);
  const layout = plan.layout;
  if (!layout.extendedHeader) {
    layout.programSize = flat.length;
    layout.segmentBaseOffset = 0;
    layout.fileSize = flat.length;
    return { plan, program: flat };
  }
  const programSize = flat.length + PADDED_EXTENDED_HEADER_LENGTH;
  const base = alignUp(programSize, opts.segmentAlignment ?? SEGMENT_ALIGNMENT);
  const program = new Uint8Array(programSize);
  const dv = new DataView(program.buffer);
  // Root offset moves by the inserted header; the identifier stays at bytes 4..7.
  dv.setUint32(0, new DataView(flat.buffer, flat.byteOffset).getUint32(0, true) + PADDED_EXTENDED_HEADER_LENGTH, true);
  program.set(flat.subarray(4, 8), 4);
  program.set(extendedHeaderBytes(programSize, base, layout.segmentDataSize), 8);
  program.set(flat.subarray(8), 8 + PADDED_EXTENDED_HEADER_LENGTH);
  layout.programSize = programSize;
  layout.segmentBaseOffset = base;
  layout.fileSize = base + layout.segmentDataSize;
  return { plan, program };
}

/** The layout writeProgram would produce, without reading any ByteSource. */
export function planProgram(spec: ProgramSpec, opts: WriteProgramOptions = {}): ProgramLayout {
  return prepare(spec, opts).plan.layout;
}

// ---------------------------------------------------------------------------
// Output

interface Sink {
  write(bytes: Uint8Array): Promise<void>;
  zeros(n: number): Promise<void>;
}

class BufferSink implements Sink {
  readonly bytes: Uint8Array;
  pos = 0;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
  }
  async write(bytes: Uint8Array): Promise<void> {
    this.bytes.set(bytes, this.pos);
    this.pos += bytes.length;
  }
  async zeros(n: number): Promise<void> {
    this.pos += n; // already zero
  }
}

/** Coalesces small writes; big ones go straight to the file. */
class FileSink implements Sink {
  private buf = Buffer.alloc(8 << 20);
  private used = 0;
  constructor(private readonly fh: fs.promises.FileHandle) {}

  async write(bytes: Uint8Array): Promise<void> {
    if (bytes.length >= this.buf.length / 2) {
      await this.flush();
      await this.writeFully(bytes);
      return;
    }
    if (this.used + bytes.length > this.buf.length) await this.flush();
    this.buf.set(bytes, this.used);
    this.used += bytes.length;
  }

  async zeros(n: number): Promise<void> {
    while (n > 0) {
      if (this.used === this.buf.length) await this.flush();
      const k = Math.min(n, this.buf.length - this.used);
      this.buf.fill(0, this.used, this.used + k);
      this.used += k;
      n -= k;
    }
  }

  async flush(): Promise<void> {
    if (this.used === 0) return;
    await this.writeFully(this.buf.subarray(0, this.used));
    this.used = 0;
  }

  private async writeFully(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) {
      const { bytesWritten } = await this.fh.write(bytes, off, Math.min(bytes.length - off, 1 << 30));
      off += bytesWritten;
    }
  }
}

async function readSource(src: ByteSource, what: string): Promise<Uint8Array> {
  const bytes = await src.read();
  if (!(bytes instanceof Uint8Array)) bad(`${what}: read() returned ${typeof bytes}, not a Uint8Array`);
  if (bytes.length !== src.size) bad(`${what}: read() gave ${bytes.length} bytes, its size says ${src.size}`);
  return bytes;
}

type Step = { pad: number } | { source: ByteSource; what: string };

/** The segment area as a sequence of zero runs and sources, in file order. */
function segmentSteps(plan: Plan): Step[] {
  const steps: Step[] = [];
  let rel = 0;
  for (const seg of plan.segments) {
    if (seg.offset > rel) steps.push({ pad: seg.offset - rel });
    rel = seg.offset;
    seg.parts.forEach((part, i) => {
      if (part.size > 0) {
        steps.push({ source: part, what: seg.kind === 'constant' ? `constant ${i}` : seg.kind === 'mutable' ? `mutable data ${i}` : seg.label });
        rel += part.size;
      }
      const p = i < seg.parts.length - 1 ? paddingRequired(part.size, seg.partAlignment) : 0;
      if (p > 0) steps.push({ pad: p });
      rel += p;
    });
    if (rel !== seg.offset + seg.size) throw new ExecuTorchError('Internal', `writeProgram: segment '${seg.label}' ends at ${rel}, planned ${seg.offset + seg.size}`);
  }
  return steps;
}

async function emit(prepared: Prepared, sink: Sink, onProgress?: (written: number, total: number) => void): Promise<void> {
  const { plan, program } = prepared;
  const total = plan.layout.fileSize;
  let written = 0;
  const put = async (bytes: Uint8Array): Promise<void> => {
    await sink.write(bytes);
    written += bytes.length;
    onProgress?.(written, total);
  };
  await put(program);
  if (plan.layout.extendedHeader) {
    await sink.zeros(plan.layout.segmentBaseOffset - program.length);
    written += plan.layout.segmentBaseOffset - program.length;
    const steps = segmentSteps(plan);
    // One source ahead: the next read (which may compute, e.g. quantize) starts on the next
    // turn of the event loop, once the current chunk's write is in flight.
    const read = (k: number): Promise<Uint8Array> => {
      const step = steps[k] as { source: ByteSource; what: string };
      const p = new Promise<void>((r) => setImmediate(r)).then(() => readSource(step.source, step.what));
      p.catch(() => undefined); // awaited below; never an unhandled rejection meanwhile
      return p;
    };
    const nextSource = (from: number): number => {
      for (let k = from; k < steps.length; k++) if ('source' in steps[k]) return k;
      return -1;
    };
    let ahead = nextSource(0);
    let pending = ahead >= 0 ? read(ahead) : undefined;
    for (let k = 0; k < steps.length; k++) {
      const step = steps[k];
      if ('pad' in step) {
        await sink.zeros(step.pad);
        written += step.pad;
        continue;
      }
      const bytes = await pending!;
      ahead = nextSource(k + 1);
      pending = ahead >= 0 ? read(ahead) : undefined;
      await put(bytes);
    }
  }
  if (written !== total) throw new ExecuTorchError('Internal', `writeProgram: wrote ${written} bytes, planned ${total}`);
}

/**
 * Writes the program to `out` (a file path; by default atomically: a temporary file in the
 * same folder renamed at the end, removed on failure) and returns its layout; or, with
 * out = 'buffer', returns the bytes.
 */
export function writeProgram(spec: ProgramSpec, out: 'buffer', opts?: WriteProgramOptions): Promise<Uint8Array>;
export function writeProgram(spec: ProgramSpec, out: string, opts?: WriteProgramOptions): Promise<ProgramLayout>;
export async function writeProgram(spec: ProgramSpec, out: string, opts: WriteProgramOptions = {}): Promise<ProgramLayout | Uint8Array> {
  if (out === 'buffer') return writeProgramToBytes(spec, opts);
  const prepared = prepare(spec, opts);
  const atomic = opts.atomic ?? true;
  const target = path.resolve(out);
  const tmp = atomic ? path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.partial`) : target;
  let fh: fs.promises.FileHandle | undefined;
  try {
    try {
      fh = await fs.promises.open(tmp, 'w');
    } catch (e) {
      throw new ExecuTorchError('IoError', `writeProgram: cannot create ${tmp}: ${(e as Error).message}`, { cause: e });
    }
    const sink = new FileSink(fh);
    await emit(prepared, sink, opts.onProgress);
    await sink.flush();
    await fh.close();
    fh = undefined;
    if (atomic) await fs.promises.rename(tmp, target);
    return prepared.plan.layout;
  } catch (e) {
    if (fh) await fh.close().catch(() => undefined);
    await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
    if (e instanceof ExecuTorchError) throw e;
    throw new ExecuTorchError('IoError', `writeProgram: writing ${target} failed: ${(e as Error).message}`, { cause: e });
  }
}

/** The whole .pte in memory (tests, small programs). */
export async function writeProgramToBytes(spec: ProgramSpec, opts: WriteProgramOptions = {}): Promise<Uint8Array> {
  const prepared = prepare(spec, opts);
  const sink = new BufferSink(prepared.plan.layout.fileSize);
  await emit(prepared, sink, opts.onProgress);
  return sink.bytes;
}
