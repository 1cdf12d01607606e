// XnnGraphSpec -> XnnpackBackend payload, as the official writer
// (backends/xnnpack/serialization/xnnpack_graph_serialize.py + operators/node_visitor.py)
// produces it:
//
//   [0, 32)   XH00 header: 4 zero bytes, "XH00", u16 length 30, u32 flatbuffer offset (32),
//             u32 flatbuffer size, u32 constant data offset (32 + align16(fb size)),
//             u64 constant data size; zero padding to 32
//   [32, ..)  the XNNGraph flatbuffer (identifier XN01), zero-padded to a multiple of 16
//   then      the constant data: empty in the default ('named') mode
//
// Constants go to named data (Program.named_data, one segment per key) under the sha256
// (hex) of their bytes, scales under "scale_" + sha256; the graph's constant_data entry 0
// is reserved ({0, 0}), the others are {offset UINT64_MAX, size, named_key}.
import * as crypto from 'crypto';
import * as flatbuffers from 'flatbuffers';
import { ExecuTorchError } from '../../runtime/errors';
import {
  ConstantDataOffsetT,
  OutputMinMaxT,
  PerChannelGroupQuantT,
  PerChannelQuantT,
  PerTensorQuantT,
  PerTokenDynamicQuantT,
  XNNDatatype,
  XNNGraphT,
  XNNQuantizedTensorValueT,
  XNNQuantParams,
  XNNTensorValueT,
  XNodeT,
  XNodeUnion,
  XValueT,
  XValueUnion,
} from './generated/xnnpack_generated';
import { alignUp } from './layout';
import { ByteSource, bytesSource, DelegateSpec, NamedDataSpec } from './program-spec';
import {
  XNN_INVALID_VALUE_ID,
  XNN_NODE_TABLES,
  XNN_VALUE_FLAG_EXTERNAL_INPUT,
  XNN_VALUE_FLAG_EXTERNAL_OUTPUT,
  XnnConstantSpec,
  XnnDatatype,
  XnnGraphSpec,
  XnnNodeSpec,
  XnnQuantSpec,
  XnnValueSpec,
} from './xnnpack-spec';

export const XNNPACK_BACKEND_ID = 'XnnpackBackend';
export const XNN_HEADER_MAGIC = 'XH00';
export const XNN_HEADER_LENGTH = 30;
export const XNN_PADDED_HEADER_LENGTH = 32;
export const XNN_GRAPH_IDENTIFIER = 'XN01';
/** Alignment of the flatbuffer end and of constant data inside the payload. */
export const XNN_CONSTANT_ALIGNMENT = 16;
const UINT64_MAX = 0xffffffffffffffffn;

export interface XnnpackPayloadOptions {
  /**
   * 'named' (default, what current exports do): constants are named data of the program.
   * 'embedded': constants follow the flatbuffer inside the payload (the older layout,
   * offsets relative to the header's constant data offset); scales go inline in the
   * flatbuffer as fp32 lists. Needs constants whose bytes are at hand (Uint8Array, or a
   * source whose read() is synchronous).
   */
  constants?: 'named' | 'embedded';
}

export interface XnnpackPayload {
  /** The processed bytes of the delegate. */
  payload: Uint8Array;
  /** Named data the payload refers to, one entry per key; add them to ProgramSpec.namedData. */
  namedData: NamedDataSpec[];
  /** Number of external values (the DelegateCall's args: inputs, then outputs). */
  numExterns: number;
}

const DATATYPES: Record<XnnDatatype, XNNDatatype> = {
  fp32: XNNDatatype.xnn_datatype_fp32,
  fp16: XNNDatatype.xnn_datatype_fp16,
  qint8: XNNDatatype.xnn_datatype_qint8,
  quint8: XNNDatatype.xnn_datatype_quint8,
  qint32: XNNDatatype.xnn_datatype_qint32,
  qcint8: XNNDatatype.xnn_datatype_qcint8,
  qcint32: XNNDatatype.xnn_datatype_qcint32,
  qcint4: XNNDatatype.xnn_datatype_qcint4,
  qdint8: XNNDatatype.xnn_datatype_qdint8,
  qbint4: XNNDatatype.xnn_datatype_qbint4,
  qpint8: XNNDatatype.xnn_datatype_qpint8,
  int32: XNNDatatype.xnn_datatype_int32,
  pfp32: XNNDatatype.xnn_datatype_pfp32,
  bf16: XNNDatatype.xnn_datatype_bf16,
};

function bad(message: string): never {
  throw new ExecuTorchError('InvalidArgument', `writeXnnpackPayload: ${message}`);
}

export function sha256Hex(bytes: Uint8Array): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

function bytesOf(a: Float32Array | Uint16Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** float32 -> bfloat16 bits, round to nearest even (as torch's .to(torch.bfloat16)); NaN stays NaN. */
export function float32ToBf16(values: ArrayLike<number>): Uint16Array {
  const f = Float32Array.from(values);
  const u = new Uint32Array(f.buffer);
  const out = new Uint16Array(f.length);
  for (let i = 0; i < u.length; i++) {
    const x = u[i];
    if ((x & 0x7fffffff) > 0x7f800000) out[i] = (x >>> 16) | 0x40;
    else out[i] = ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
  }
  return out;
}

/**
 * Packs int4 values in [-8, 7], row-major [rows, cols], as XNNPACK's qc4w/qb4w want
 * them: v + 8, two per byte, the even column in the LOW nibble; each row padded to an
 * even number of columns. (embedding_4bit packs the other way round.)
 */
export function packInt4ForXnnpack(values: ArrayLike<number>, rows: number, cols: number): Uint8Array {
  if (values.length !== rows * cols) throw new RangeError(`packInt4ForXnnpack: ${values.length} values for [${rows}, ${cols}]`);
  const rowBytes = Math.ceil(cols / 2);
  const out = new Uint8Array(rows * rowBytes);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = values[r * cols + c];
      if (!(v >= -8 && v <= 7) || !Number.isInteger(v)) throw new RangeError(`packInt4ForXnnpack: value ${v} at [${r}, ${c}] is not an int4`);
      const q = v + 8;
      out[r * rowBytes + (c >> 1)] |= c & 1 ? q << 4 : q;
    }
  }
  return out;
}

/** Bytes the constant data of a value must have, or -1 when the datatype does not say. */
function expectedConstantBytes(v: XnnValueSpec): number {
  const numel = v.dims.reduce((a, b) => a * b, 1);
  switch (v.datatype) {
    case 'fp32':
    case 'qint32':
    case 'qcint32':
    case 'int32':
      return numel * 4;
    case 'fp16':
    case 'bf16':
      return numel * 2;
    case 'qint8':
    case 'quint8':
    case 'qcint8':
      return numel;
    case 'qcint4':
    case 'qbint4': {
      if (v.dims.length === 0) return -1;
      const last = v.dims[v.dims.length - 1];
      return (numel / Math.max(last, 1)) * Math.ceil(last / 2);
    }
    default:
      return -1;
  }
}

interface ConstantEntry {
  key: string | null;
  size: number;
  /** embedded mode: the bytes */
  bytes?: Uint8Array;
}

class ConstantTable {
  readonly entries: ConstantEntry[] = [{ key: null, size: 0 }];
  readonly named = new Map<string, NamedDataSpec>();
  constructor(readonly mode: 'named' | 'embedded') {}

  add(c: XnnConstantSpec, what: string, prefix = ''): number {
    if (c instanceof Uint8Array) {
      if (c.length === 0) bad(`${what} has no bytes`);
      if (this.mode === 'embedded') {
        this.entries.push({ key: null, size: c.length, bytes: c });
      } else {
        const key = prefix + sha256Hex(c);
        this.entries.push({ key, size: c.length });
        if (!this.named.has(key)) this.named.set(key, { key, source: bytesSource(c) });
      }
      return this.entries.length - 1;
    }
    if (!c || typeof c.key !== 'string' || !c.source) bad(`${what}: constant must be bytes or { key, source }`);
    if (this.mode === 'embedded') {
      const bytes = c.source.read();
      if (!(bytes instanceof Uint8Array)) bad(`${what}: embedded constants need bytes at hand (read() returned a Promise)`);
      return this.add(bytes, what, prefix);
    }
    if (!/^(scale_)?[0-9a-f]{64}$/.test(c.key)) bad(`${what}: key '${c.key}' is not a sha256 (hex) of the bytes`);
    this.entries.push({ key: c.key, size: c.source.size });
    const prev = this.named.get(c.key);
    if (prev && prev.source.size !== c.source.size)
      bad(`${what}: key ${c.key} is given with ${prev.source.size} and ${c.source.size} bytes`);
    if (!prev) this.named.set(c.key, { key: c.key, source: verifiedSource(c.key, c.source) });
    return this.entries.length - 1;
  }
}

/** A source that checks, when read, that its bytes hash to the key they are stored under. */
function verifiedSource(key: string, src: ByteSource): ByteSource {
  const check = (bytes: Uint8Array): Uint8Array => {
    const want = key.startsWith('scale_') ? key.slice(6) : key;
    const got = sha256Hex(bytes);
    if (got !== want) throw new ExecuTorchError('InvalidArgument', `XNNPACK constant '${key}': its bytes hash to ${got}`);
    return bytes;
  };
  return {
    size: src.size,
    read: () => {
      const r = src.read();
      return r instanceof Promise ? r.then(check) : check(r);
    },
  };
}

function buildQuant(q: XnnQuantSpec, v: XnnValueSpec, table: ConstantTable, what: string): [XNNQuantParams, XNNQuantizedTensorValueT['quantParams']] {
  switch (q.kind) {
    case 'perTensor':
      return [XNNQuantParams.PerTensorQuant, new PerTensorQuantT(q.scale, q.zeroPoint)];
    case 'perTokenDynamic':
      if (v.constant) bad(`${what}: a dynamically quantized value cannot have constant data`);
      return [XNNQuantParams.PerTokenDynamicQuant, new PerTokenDynamicQuantT(q.numNonbatchDims)];
    case 'perChannel': {
      const scales = Float32Array.from(q.scales);
      if (!(q.channelDim >= 0 && q.channelDim < v.dims.length) || scales.length !== v.dims[q.channelDim])
        bad(`${what}: ${scales.length} per-channel scales for dim ${q.channelDim} of [${v.dims}]`);
      if (table.mode === 'embedded') return [XNNQuantParams.PerChannelQuant, new PerChannelQuantT(Array.from(scales), q.channelDim, 0, scales.length)];
      const idx = table.add(bytesOf(scales), `${what} scales`, 'scale_');
      return [XNNQuantParams.PerChannelQuant, new PerChannelQuantT([], q.channelDim, idx, scales.length)];
    }
    case 'perChannelGroup': {
      const bf16 = q.scales instanceof Uint16Array ? q.scales : float32ToBf16(q.scales);
      if (v.dims.length !== 2) bad(`${what}: blockwise quantization needs a 2-D [OC, IC] value, got [${v.dims}]`);
      const [oc, ic] = v.dims;
      if (!(q.groupSize > 0) || ic % q.groupSize !== 0) bad(`${what}: group size ${q.groupSize} does not divide ${ic} input channels`);
      if (bf16.length !== (oc * ic) / q.groupSize) bad(`${what}: ${bf16.length} group scales, want ${(oc * ic) / q.groupSize}`);
      if (table.mode === 'embedded') {
        const f = new Float32Array(new Uint32Array(Array.from(bf16, (h) => h << 16)).buffer);
        return [XNNQuantParams.PerChannelGroupQuant, new PerChannelGroupQuantT(Array.from(f), q.channelDim, q.groupSize, 0, bf16.length)];
      }
      const idx = table.add(bytesOf(bf16), `${what} scales`, 'scale_');
      return [XNNQuantParams.PerChannelGroupQuant, new PerChannelGroupQuantT([], q.channelDim, q.groupSize, idx, bf16.length)];
    }
    default:
      bad(`${what}: unknown quantization '${(q as { kind: string }).kind}'`);
  }
}

function buildValue(v: XnnValueSpec, id: number, table: ConstantTable): XValueT {
  const what = `value ${id}`;
  const datatype = DATATYPES[v.datatype];
  if (datatype === undefined) bad(`${what} has unknown datatype '${v.datatype}'`);
  if (!Array.isArray(v.dims) || v.dims.some((d) => !Number.isInteger(d) || d < 0 || d > 0xffffffff)) bad(`${what} has bad dims [${v.dims}]`);
  const dims = v.dims.length === 0 ? [1] : v.dims;
  let constantIdx = 0;
  if (v.constant !== undefined) {
    if (v.external) bad(`${what} is both external and constant`);
    const want = expectedConstantBytes({ ...v, dims });
    const have = v.constant instanceof Uint8Array ? v.constant.length : v.constant.source?.size;
    if (want >= 0 && have !== want) bad(`${what} (${v.datatype} [${dims}]) has ${have} bytes of data, want ${want}`);
    constantIdx = table.add(v.constant, what);
  }
  let externalId = XNN_INVALID_VALUE_ID;
  let flags = 0;
  if (v.external) {
    externalId = v.external.id;
    flags = v.external.kind === 'input' ? XNN_VALUE_FLAG_EXTERNAL_INPUT : XNN_VALUE_FLAG_EXTERNAL_OUTPUT;
  }
  const tv = new XNNTensorValueT(datatype, dims.length, dims, constantIdx, externalId, flags, id);
  if (!v.quant) return new XValueT(XValueUnion.XNNTensorValue, tv);
  const [type, params] = buildQuant(v.quant, { ...v, dims }, table, what);
  return new XValueT(XValueUnion.XNNQuantizedTensorValue, new XNNQuantizedTensorValueT(tv, type, params));
}

function buildNode(n: XnnNodeSpec, index: number, numValues: number): XNodeT {
  const what = `node ${index} (${n.op})`;
  const Table = (XNN_NODE_TABLES as Record<string, new () => object>)[n.op];
  const tag = (XNodeUnion as unknown as Record<string, number>)[`XNN${n.op}`];
  if (!Table || tag === undefined) bad(`${what}: unknown node op '${n.op}'`);
  const table = new Table() as Record<string, unknown>;
  // Ids not given mean "none"; other fields keep the schema default.
  for (const k of Object.keys(table)) if (/Id$/.test(k)) table[k] = XNN_INVALID_VALUE_ID;
  for (const [k, val] of Object.entries(n)) {
    if (k === 'op' || k === 'outputMinMax' || k === 'debugHandle' || val === undefined) continue;
    if (!(k in table)) bad(`${what} has no field '${k}' (fields: ${Object.keys(table).join(', ')})`);
    if (/Id$/.test(k) && val !== XNN_INVALID_VALUE_ID && !(Number.isInteger(val) && (val as number) >= 0 && (val as number) < numValues))
      bad(`${what}: ${k} = ${String(val)} is not a value (the graph has ${numValues})`);
    table[k] = val;
  }
  if ('outputId' in table && table.outputId === XNN_INVALID_VALUE_ID) bad(`${what} has no outputId`);
  const mm = n.outputMinMax ? new OutputMinMaxT(n.outputMinMax.min, n.outputMinMax.max) : null;
  return new XNodeT(tag, table as unknown as XNodeT['xnodeUnion'], n.debugHandle ?? 0, mm);
}

/** Serializes the graph into the XnnpackBackend payload and the named data it refers to. */
export function writeXnnpackPayload(graph: XnnGraphSpec, opts: XnnpackPayloadOptions = {}): XnnpackPayload {
  const mode = opts.constants ?? 'named';
  const table = new ConstantTable(mode);
  const xvalues = graph.values.map((v, i) => buildValue(v, i, table));
  const xnodes = graph.nodes.map((n, i) => buildNode(n, i, graph.values.length));

  const inputIds: number[] = [];
  const outputIds: number[] = [];
  const externalIds = new Set<number>();
  graph.values.forEach((v, i) => {
    if (!v.external) return;
    const { id, kind } = v.external;
    if (!Number.isInteger(id) || id < 0) bad(`value ${i} has external id ${id}`);
    if (externalIds.has(id)) bad(`external id ${id} is used twice`);
    externalIds.add(id);
    (kind === 'input' ? inputIds : outputIds).push(i);
  });
  const maxId = Math.max(-1, ...externalIds);
  const numExterns = graph.numExterns ?? maxId + 1;
  if (!Number.isInteger(numExterns) || numExterns <= maxId)
    bad(`numExterns ${numExterns} does not cover external id ${maxId} (ids are positions in the DelegateCall's args)`);

  const g = new XNNGraphT(graph.version ?? '0', xnodes, xvalues, numExterns, inputIds, outputIds, [], []);
  g.constantData = table.entries.map((e) =>
    mode === 'named'
      ? // Entry 0 carries an empty key, as the official writer's dataclass default puts it.
        new ConstantDataOffsetT(e.key === null ? 0n : UINT64_MAX, BigInt(e.size), e.key ?? '')
      : new ConstantDataOffsetT(0n, BigInt(e.size), null),
  );

  // Embedded constants: each at a multiple of 16 after the previous one.
  let constantBytes = new Uint8Array(0);
  if (mode === 'embedded') {
    let cur = 0;
    const offsets = table.entries.map((e) => {
      const off = alignUp(cur, XNN_CONSTANT_ALIGNMENT);
      cur = off + e.size;
      return off;
    });
    constantBytes = new Uint8Array(cur);
    table.entries.forEach((e, i) => {
      g.constantData[i].offset = BigInt(offsets[i]);
      if (e.bytes) constantBytes.set(e.bytes, offsets[i]);
    });
  }

  const b = new flatbuffers.Builder(4096);
  b.finish(g.pack(b), XNN_GRAPH_IDENTIFIER);
  const flat = b.asUint8Array();
  const fbPadded = alignUp(flat.length, XNN_CONSTANT_ALIGNMENT);
  const constOffset = XNN_PADDED_HEADER_LENGTH + fbPadded;
  const payload = new Uint8Array(constOffset + constantBytes.length);
  const dv = new DataView(payload.buffer);
  payload.set(Buffer.from(XNN_HEADER_MAGIC, 'ascii'), 4);
  dv.setUint16(8, XNN_HEADER_LENGTH, true);
  dv.setUint32(10, XNN_PADDED_HEADER_LENGTH, true);
  dv.setUint32(14, flat.length, true);
  dv.setUint32(18, constOffset, true);
  dv.setBigUint64(22, BigInt(constantBytes.length), true);
  payload.set(flat, XNN_PADDED_HEADER_LENGTH);
  payload.set(constantBytes, constOffset);
  return { payload, namedData: [...table.named.values()], numExterns };
}

/** The payload as an XnnpackBackend DelegateSpec, with the named data to add to the program. */
export function xnnpackDelegate(graph: XnnGraphSpec, opts: XnnpackPayloadOptions = {}): { delegate: DelegateSpec; namedData: NamedDataSpec[]; numExterns: number } {
  const { payload, namedData, numExterns } = writeXnnpackPayload(graph, opts);
  return { delegate: { id: XNNPACK_BACKEND_ID, payload: bytesSource(payload), compileSpecs: [] }, namedData, numExterns };
}
