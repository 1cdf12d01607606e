// .pte -> ProgramSpec: the inverse of writeProgram, for round trips (an official file
// read and written again gives the same segments, byte for byte) and tools that edit
// programs. Byte sources are views of the given bytes; the same segment gives the same
// ByteSource object, so the writer stores it once again.
import * as flatbuffers from 'flatbuffers';
import { ExecuTorchError } from '../../runtime/errors';
import * as fb from './generated/program_generated';
import { ScalarType } from './generated/scalar_type_generated';
import { readExtendedHeader } from './layout';
import type {
  ByteSource,
  ChainSpec,
  DelegateSpec,
  EValueSpec,
  InstructionSpec,
  MethodSpec,
  NamedDataSpec,
  ProgramSpec,
  ScalarTypeName,
  TensorSpec,
} from './program-spec';
import { bytesSource } from './program-spec';

const DTYPE_NAMES: Partial<Record<ScalarType, ScalarTypeName>> = {
  [ScalarType.BYTE]: 'uint8',
  [ScalarType.CHAR]: 'int8',
  [ScalarType.SHORT]: 'int16',
  [ScalarType.INT]: 'int32',
  [ScalarType.LONG]: 'int64',
  [ScalarType.HALF]: 'float16',
  [ScalarType.FLOAT]: 'float32',
  [ScalarType.DOUBLE]: 'float64',
  [ScalarType.BOOL]: 'bool',
  [ScalarType.BFLOAT16]: 'bfloat16',
};

const ELEMENT_SIZE: Record<ScalarTypeName, number> = {
  uint8: 1, int8: 1, int16: 2, int32: 4, int64: 8, float16: 2, float32: 4, float64: 8, bool: 1, bfloat16: 2,
};

function invalid(message: string): never {
  throw new ExecuTorchError('InvalidProgram', `readProgram: ${message}`);
}

function notSupported(message: string): never {
  throw new ExecuTorchError('NotSupported', `readProgram: ${message}`);
}

const str = (s: string | Uint8Array | null): string => (s === null ? '' : typeof s === 'string' ? s : Buffer.from(s).toString('utf8'));

/** The segments of a .pte as views of its bytes (relative to segment_base_offset as the header says). */
export function programSegments(bytes: Uint8Array, program?: fb.ProgramT): Uint8Array[] {
  const p = program ?? fb.Program.getRootAsProgram(new flatbuffers.ByteBuffer(bytes)).unpack();
  const eh = readExtendedHeader(bytes);
  return p.segments.map((s, i) => {
    const off = Number(s.offset);
    const size = Number(s.size);
    if (size === 0) return new Uint8Array(0);
    if (!eh) invalid(`segment ${i} has data but the file has no eh00 header`);
    const start = eh.segmentBaseOffset + off;
    if (start + size > bytes.length) invalid(`segment ${i} (${size} bytes at ${start}) lies outside the file (${bytes.length} bytes)`);
    return bytes.subarray(start, start + size);
  });
}

/**
 * Reads a .pte into a ProgramSpec. Constants are the constant segment's sub-buffers
 * (with the padding that follows each, as the official reader restores them), delegate
 * payloads and named data the segments they live in. Tensors stored outside the file
 * (.ptd) and scalar types the spec has no name for are NotSupported.
 */
export function readProgram(bytes: Uint8Array): ProgramSpec {
  if (bytes.length < 8 || Buffer.from(bytes.subarray(4, 8)).toString('latin1') !== 'ET12') invalid('not an ExecuTorch program (no ET12 identifier)');
  const p = fb.Program.getRootAsProgram(new flatbuffers.ByteBuffer(bytes)).unpack();
  const segs = programSegments(bytes, p);
  const segmentSources = new Map<number, ByteSource>();
  const segmentSource = (i: number, what: string): ByteSource => {
    if (i >= segs.length) invalid(`${what} refers to segment ${i} of ${segs.length}`);
    let s = segmentSources.get(i);
    if (!s) segmentSources.set(i, (s = bytesSource(segs[i])));
    return s;
  };

  // Constants.
  let constants: ByteSource[] = [bytesSource(new Uint8Array(0))];
  if (p.constantBuffer.length > 1) {
    constants = p.constantBuffer.map((b) => bytesSource(Uint8Array.from(b.storage)));
  } else if (p.constantSegment && p.constantSegment.offsets.length > 0) {
    const seg = segs[p.constantSegment.segmentIndex];
    if (!seg) invalid(`constant_segment refers to segment ${p.constantSegment.segmentIndex} of ${segs.length}`);
    const offs = p.constantSegment.offsets.map(Number);
    constants = offs.map((o, i) => {
      const end = i + 1 < offs.length ? offs[i + 1] : seg.length;
      if (i === 0) return bytesSource(new Uint8Array(0));
      if (o > end || end > seg.length) invalid(`constant ${i} (offsets ${o}..${end}) overruns the constant segment (${seg.length} bytes)`);
      return bytesSource(seg.subarray(o, end));
    });
  }

  // Mutable data: mutable_data_segments[k].offsets[i] -> bytes.
  const mutableSource = (segIdx: number, bufferIdx: number, nbytes: number, what: string): ByteSource => {
    const mds = p.mutableDataSegments[segIdx];
    if (!mds || bufferIdx >= mds.offsets.length) invalid(`${what} uses mutable buffer ${segIdx}/${bufferIdx}, which the program lacks`);
    const seg = segs[mds.segmentIndex];
    const off = Number(mds.offsets[bufferIdx]);
    if (!seg || off + nbytes > seg.length) invalid(`${what} initial data overruns its segment`);
    return bytesSource(seg.subarray(off, off + nbytes));
  };

  const inlineDelegates = p.backendDelegateData.map((d) => bytesSource(Uint8Array.from(d.data)));
  const methods: MethodSpec[] = p.executionPlan.map((plan) => {
    const name = str(plan.name);
    const where = (s: string): string => `method '${name}': ${s}`;
    const values = plan.values.map((v, i) => readEValue(v, where(`value ${i}`), mutableSource));
    const delegates: DelegateSpec[] = plan.delegates.map((d, i) => {
      const ref = d.processed;
      if (!ref) invalid(where(`delegate ${i} has no payload reference`));
      let payload: ByteSource;
      if (ref.location === fb.DataLocation.SEGMENT) payload = segmentSource(ref.index, where(`delegate ${i}`));
      else {
        payload = inlineDelegates[ref.index];
        if (!payload) invalid(where(`delegate ${i} uses inline data ${ref.index} of ${inlineDelegates.length}`));
      }
      return {
        id: str(d.id),
        payload,
        compileSpecs: d.compileSpecs.map((cs) => ({ key: str(cs.key), value: Uint8Array.from(cs.value) })),
      };
    });
    const chains: ChainSpec[] = plan.chains.map((c) => ({
      inputs: [...c.inputs],
      outputs: [...c.outputs],
      instructions: c.instructions.map((ins, k) => readInstruction(ins, where(`instruction ${k}`))),
    }));
    const m: MethodSpec = {
      name,
      values,
      inputs: [...plan.inputs],
      outputs: [...plan.outputs],
      chains,
      operators: plan.operators.map((op) => ({ name: str(op.name), overload: str(op.overload) })),
      delegates,
      nonConstBufferSizes: plan.nonConstBufferSizes.length ? plan.nonConstBufferSizes.map(Number) : [0],
    };
    if (plan.containerMetaType)
      m.containerMeta = { encodedInpStr: str(plan.containerMetaType.encodedInpStr), encodedOutStr: str(plan.containerMetaType.encodedOutStr) };
    return m;
  });

  const namedData: NamedDataSpec[] = p.namedData.map((nd) => ({ key: str(nd.key), source: segmentSource(nd.segmentIndex, `named data '${str(nd.key)}'`) }));
  return { methods, constants, namedData };
}

function readInstruction(ins: fb.InstructionT, what: string): InstructionSpec {
  const a = ins.instrArgs;
  switch (ins.instrArgsType) {
    case fb.InstructionArguments.KernelCall: {
      const k = a as fb.KernelCallT;
      return { kind: 'kernel', op: k.opIndex, args: [...k.args] };
    }
    case fb.InstructionArguments.DelegateCall: {
      const d = a as fb.DelegateCallT;
      return { kind: 'delegate', delegate: d.delegateIndex, args: [...d.args] };
    }
    case fb.InstructionArguments.MoveCall: {
      const m = a as fb.MoveCallT;
      return { kind: 'move', from: m.moveFrom, to: m.moveTo };
    }
    case fb.InstructionArguments.JumpFalseCall: {
      const j = a as fb.JumpFalseCallT;
      return { kind: 'jumpFalse', cond: j.condValueIndex, destination: j.destinationInstruction };
    }
    case fb.InstructionArguments.FreeCall:
      return { kind: 'free', value: (a as fb.FreeCallT).valueIndex };
    default:
      invalid(`${what} has instruction type ${ins.instrArgsType}`);
  }
}

function readEValue(
  v: fb.EValueT,
  what: string,
  mutableSource: (segIdx: number, bufferIdx: number, nbytes: number, what: string) => ByteSource,
): EValueSpec {
  const val = v.val;
  switch (v.valType) {
    case fb.KernelTypes.Null:
      return { kind: 'null' };
    case fb.KernelTypes.Int: {
      const i = (val as fb.IntT).intVal;
      return { kind: 'int', value: i >= -(2n ** 53n) && i <= 2n ** 53n ? Number(i) : i };
    }
    case fb.KernelTypes.Bool:
      return { kind: 'bool', value: (val as fb.BoolT).boolVal };
    case fb.KernelTypes.Double:
      return { kind: 'double', value: (val as fb.DoubleT).doubleVal };
    case fb.KernelTypes.String:
      return { kind: 'string', value: str((val as fb.StringT).stringVal) };
    case fb.KernelTypes.IntList:
      return { kind: 'intList', items: (val as fb.IntListT).items.map(Number) };
    case fb.KernelTypes.DoubleList:
      return { kind: 'doubleList', items: [...(val as fb.DoubleListT).items] };
    case fb.KernelTypes.BoolList:
      return { kind: 'boolList', items: [...(val as fb.BoolListT).items] };
    case fb.KernelTypes.TensorList:
      return { kind: 'tensorList', items: [...(val as fb.TensorListT).items] };
    case fb.KernelTypes.OptionalTensorList:
      return { kind: 'optionalTensorList', items: [...(val as fb.OptionalTensorListT).items] };
    case fb.KernelTypes.Tensor:
      return { kind: 'tensor', tensor: readTensor(val as fb.TensorT, what, mutableSource) };
    default:
      invalid(`${what} has value type ${v.valType}`);
  }
}

function readTensor(
  t: fb.TensorT,
  what: string,
  mutableSource: (segIdx: number, bufferIdx: number, nbytes: number, what: string) => ByteSource,
): TensorSpec {
  const dtype = DTYPE_NAMES[t.scalarType];
  if (!dtype) notSupported(`${what} has scalar type ${ScalarType[t.scalarType] ?? t.scalarType}`);
  if (t.storageOffset !== 0) notSupported(`${what} has storage_offset ${t.storageOffset}`);
  if (t.extraTensorInfo && t.extraTensorInfo.location === fb.TensorDataLocation.EXTERNAL)
    notSupported(`${what} is stored outside the program ('${str(t.extraTensorInfo.fullyQualifiedName)}')`);
  if (t.shapeDynamism === fb.TensorShapeDynamism.DYNAMIC_UNBOUND) notSupported(`${what} has an unbounded dynamic shape`);
  const spec: TensorSpec = { dtype, sizes: [...t.sizes] };
  // An empty dim_order (older files) means contiguous.
  if (t.dimOrder.length !== 0 && t.dimOrder.length !== t.sizes.length) invalid(`${what} has dim_order [${t.dimOrder}] for ${t.sizes.length} dims`);
  if (t.dimOrder.some((d, i) => d !== i)) spec.dimOrder = [...t.dimOrder];
  if (t.shapeDynamism === fb.TensorShapeDynamism.DYNAMIC_BOUND) spec.dynamism = 'dynamic_bound';
  if (t.allocationInfo) {
    spec.allocation = { memoryId: t.allocationInfo.memoryId, offset: t.allocationInfo.memoryOffsetLow + t.allocationInfo.memoryOffsetHigh * 2 ** 32 };
    if (t.dataBufferIdx > 0) {
      const nbytes = t.sizes.reduce((a, b) => a * b, 1) * ELEMENT_SIZE[dtype];
      const segIdx = t.extraTensorInfo ? Number(t.extraTensorInfo.mutableDataSegmentsIdx) : 0;
      if (segIdx !== 0) notSupported(`${what} uses mutable data segment ${segIdx} (the writer has one)`);
      spec.mutableData = {
        source: mutableSource(segIdx, t.dataBufferIdx, nbytes, what),
        fullyQualifiedName: t.extraTensorInfo ? str(t.extraTensorInfo.fullyQualifiedName) : '',
      };
    }
  } else if (t.dataBufferIdx > 0) {
    spec.constant = t.dataBufferIdx;
  }
  return spec;
}
