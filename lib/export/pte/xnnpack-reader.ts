// XnnpackBackend payload -> XnnGraphSpec: the inverse of writeXnnpackPayload, for round
// trips (an official payload read and written again gives the same graph and the same
// named-data keys) and tools. Constants come back as bytes (from the program's named
// data or the payload's trailing constant data), scales as arrays.
import * as flatbuffers from 'flatbuffers';
import { ExecuTorchError } from '../../runtime/errors';
import {
  PerChannelGroupQuantT,
  PerChannelQuantT,
  PerTensorQuantT,
  PerTokenDynamicQuantT,
  XNNDatatype,
  XNNGraph,
  XNNQuantizedTensorValueT,
  XNNQuantParams,
  XNNTensorValueT,
  XNodeUnion,
  XValueUnion,
} from './generated/xnnpack_generated';
import {
  XNN_INVALID_VALUE_ID,
  XNN_VALUE_FLAG_EXTERNAL_INPUT,
  XNN_VALUE_FLAG_EXTERNAL_OUTPUT,
  XnnDatatype,
  XnnGraphSpec,
  XnnNodeSpec,
  XnnQuantSpec,
  XnnValueSpec,
} from './xnnpack-spec';

function invalid(message: string): never {
  throw new ExecuTorchError('InvalidProgram', `readXnnpackPayload: ${message}`);
}

const str = (s: string | Uint8Array | null): string => (s === null ? '' : typeof s === 'string' ? s : Buffer.from(s).toString('utf8'));

export interface XnnPayloadParts {
  /** The XNNGraph flatbuffer. */
  flatbuffer: Uint8Array;
  /** The trailing constant data (empty in current exports). */
  constantData: Uint8Array;
  /** Whether the XH00 header was present. */
  header: boolean;
}

/** Splits a payload along its XH00 header (a payload without one is the bare flatbuffer). */
export function splitXnnpackPayload(payload: Uint8Array): XnnPayloadParts {
  if (payload.length >= 30 && Buffer.from(payload.subarray(4, 8)).toString('latin1') === 'XH00') {
    const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    const fbOffset = dv.getUint32(10, true);
    const fbSize = dv.getUint32(14, true);
    const cOffset = dv.getUint32(18, true);
    const cSize = Number(dv.getBigUint64(22, true));
    if (fbOffset + fbSize > payload.length || cOffset + cSize > payload.length) invalid('header ranges exceed the payload');
    return { flatbuffer: payload.subarray(fbOffset, fbOffset + fbSize), constantData: payload.subarray(cOffset, cOffset + cSize), header: true };
  }
  return { flatbuffer: payload, constantData: new Uint8Array(0), header: false };
}

const DATATYPE_NAMES = Object.fromEntries(
  Object.entries(XNNDatatype)
    .filter(([k]) => k.startsWith('xnn_datatype_') && k !== 'xnn_datatype_invalid')
    .map(([k, v]) => [v as number, k.slice('xnn_datatype_'.length) as XnnDatatype]),
) as Record<number, XnnDatatype>;

/**
 * Reads a payload. `namedData(key)` returns the bytes stored under a key (the program's
 * named data). Values must be numbered by their position (id_out = index), as the
 * official writer numbers them.
 */
export function readXnnpackPayload(payload: Uint8Array, namedData: (key: string) => Uint8Array | undefined): XnnGraphSpec {
  const parts = splitXnnpackPayload(payload);
  // The flatbuffer may sit at any offset of the segment: copy it so reads are aligned.
  const g = XNNGraph.getRootAsXNNGraph(new flatbuffers.ByteBuffer(Uint8Array.from(parts.flatbuffer))).unpack();
  const constant = (idx: number, what: string): Uint8Array => {
    const c = g.constantData[idx];
    if (!c) invalid(`${what} uses constant ${idx} of ${g.constantData.length}`);
    if (c.namedKey !== null) {
      const key = str(c.namedKey);
      const bytes = namedData(key);
      if (!bytes) invalid(`${what}: named data '${key}' is missing`);
      if (bytes.length < Number(c.size)) invalid(`${what}: named data '${key}' has ${bytes.length} bytes, the graph says ${c.size}`);
      return bytes.subarray(0, Number(c.size));
    }
    const off = Number(c.offset);
    const size = Number(c.size);
    if (off + size > parts.constantData.length) invalid(`${what}: constant ${idx} overruns the payload's constant data`);
    return parts.constantData.subarray(off, off + size);
  };

  const values: XnnValueSpec[] = g.xvalues.map((xv, i) => {
    const what = `value ${i}`;
    let tv: XNNTensorValueT;
    let quant: XnnQuantSpec | undefined;
    if (xv.xvalueUnionType === XValueUnion.XNNTensorValue) tv = xv.xvalueUnion as XNNTensorValueT;
    else if (xv.xvalueUnionType === XValueUnion.XNNQuantizedTensorValue) {
      const q = xv.xvalueUnion as XNNQuantizedTensorValueT;
      if (!q.tensorValue) invalid(`${what} has no tensor value`);
      tv = q.tensorValue;
      quant = readQuant(q, constant, what);
    } else invalid(`${what} has value type ${xv.xvalueUnionType}`);
    if (tv.idOut !== i) invalid(`${what} has id_out ${tv.idOut} (values must be numbered by position)`);
    const datatype = DATATYPE_NAMES[tv.datatype];
    if (!datatype) invalid(`${what} has datatype ${tv.datatype}`);
    const v: XnnValueSpec = { datatype, dims: [...tv.dims] };
    if (tv.externalId !== XNN_INVALID_VALUE_ID) {
      const kind = tv.flags & XNN_VALUE_FLAG_EXTERNAL_INPUT ? 'input' : tv.flags & XNN_VALUE_FLAG_EXTERNAL_OUTPUT ? 'output' : undefined;
      if (!kind) invalid(`${what} has external id ${tv.externalId} but flags ${tv.flags}`);
      v.external = { id: tv.externalId, kind };
    }
    if (tv.constantBufferIdx !== 0) v.constant = Uint8Array.from(constant(tv.constantBufferIdx, what));
    if (quant) v.quant = quant;
    return v;
  });

  const nodes: XnnNodeSpec[] = g.xnodes.map((n, i) => {
    const name = XNodeUnion[n.xnodeUnionType];
    if (!name || n.xnodeUnionType === XNodeUnion.NONE || !n.xnodeUnion) invalid(`node ${i} has node type ${n.xnodeUnionType}`);
    const node: Record<string, unknown> = { op: name.slice(3) };
    for (const [k, val] of Object.entries(n.xnodeUnion)) node[k] = Array.isArray(val) ? [...val] : val;
    if (n.outputMinMax) node.outputMinMax = { min: n.outputMinMax.outputMin, max: n.outputMinMax.outputMax };
    if (n.debugHandle) node.debugHandle = n.debugHandle;
    return node as unknown as XnnNodeSpec;
  });
  return { values, nodes, version: str(g.version), numExterns: g.numExterns };
}

function readQuant(q: XNNQuantizedTensorValueT, constant: (idx: number, what: string) => Uint8Array, what: string): XnnQuantSpec {
  switch (q.quantParamsType) {
    case XNNQuantParams.PerTensorQuant: {
      const p = q.quantParams as PerTensorQuantT;
      return { kind: 'perTensor', scale: p.scale, zeroPoint: p.zeroPoint };
    }
    case XNNQuantParams.PerTokenDynamicQuant:
      return { kind: 'perTokenDynamic', numNonbatchDims: (q.quantParams as PerTokenDynamicQuantT).numNonbatchDims };
    case XNNQuantParams.PerChannelQuant: {
      const p = q.quantParams as PerChannelQuantT;
      const scales = p.scaleBufferIdx !== 0 ? floatsOf(constant(p.scaleBufferIdx, `${what} scales`)) : Float32Array.from(p.scale);
      return { kind: 'perChannel', channelDim: p.channelDim, scales };
    }
    case XNNQuantParams.PerChannelGroupQuant: {
      const p = q.quantParams as PerChannelGroupQuantT;
      const scales = p.scaleBufferIdx !== 0 ? u16Of(constant(p.scaleBufferIdx, `${what} scales`)) : Float32Array.from(p.scale);
      return { kind: 'perChannelGroup', channelDim: p.channelDim, groupSize: p.groupSize, scales };
    }
    default:
      invalid(`${what} has quantization type ${q.quantParamsType}`);
  }
}

function floatsOf(b: Uint8Array): Float32Array {
  return new Float32Array(Uint8Array.from(b).buffer);
}

function u16Of(b: Uint8Array): Uint16Array {
  return new Uint16Array(Uint8Array.from(b).buffer);
}
