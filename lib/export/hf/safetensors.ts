// One .safetensors file, read lazily: the header (8-byte little-endian length +
// JSON) is parsed and validated at open, and tensor bytes are read with positional
// reads only when asked for, in bounded chunks, so a multi-GB checkpoint never sits
// in memory and no single read or conversion holds the event loop for long.
import { promises as fsp } from 'fs';
import * as os from 'os';
import { ExecuTorchError } from '../../runtime/errors';
import { fsError } from './files';
import { decodeFloats, dtypeSize, FLOAT_DTYPES, isFloatDtype, isSafetensorsDtype, SafetensorsDtype, SAFETENSORS_DTYPES } from './tensor-dtype';

/** The reference implementation (Rust `safetensors`) refuses headers above 100 MB; so do we. */
export const MAX_HEADER_BYTES = 100_000_000;

/** Largest single fs read, and the scratch size for dtype conversion. */
const CHUNK_BYTES = 8 << 20;

export interface SafetensorsTensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  numel: number;
  /** The .safetensors file holding it. */
  file: string;
  /** Absolute byte offset of the first element in the file. */
  fileOffset: number;
  byteLength: number;
}

export interface RawTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Little-endian element bytes, in a buffer of their own (aligned for typed-array views). */
  bytes: Uint8Array;
}

/** What the reader has read from disk so far (the header included). */
export interface ReadStats {
  reads: number;
  bytesRead: number;
}

export interface SafetensorsHeader {
  tensors: Map<string, SafetensorsTensorInfo>;
  metadata: Record<string, string> | null;
}

function invalid(file: string, what: string): ExecuTorchError {
  return new ExecuTorchError('InvalidCheckpoint', `${file}: ${what}`);
}

/**
 * Parses and validates the JSON header of a safetensors file whose header is
 * `headerLength` bytes and whose total size is `fileSize`: every tensor has a known
 * dtype, a shape of non-negative integers, data_offsets inside the data region, a
 * byte size equal to numel * dtype size, and no two tensors overlap.
 */
export function parseSafetensorsHeader(json: string, headerLength: number, fileSize: number, file: string): SafetensorsHeader {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    throw invalid(file, `safetensors header is not valid JSON (${(err as Error).message})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw invalid(file, 'safetensors header is not a JSON object');
  const dataStart = 8 + headerLength;
  const dataLength = fileSize - dataStart;
  const tensors = new Map<string, SafetensorsTensorInfo>();
  let metadata: Record<string, string> | null = null;
  for (const [name, entry] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(entry, file);
      continue;
    }
    tensors.set(name, parseEntry(name, entry, dataStart, dataLength, file));
  }
  checkNoOverlap([...tensors.values()], dataStart, file);
  return { tensors, metadata };
}

function parseMetadata(entry: unknown, file: string): Record<string, string> {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw invalid(file, '__metadata__ is not a JSON object');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(entry as Record<string, unknown>)) out[k] = typeof v === 'string' ? v : JSON.stringify(v);
  return out;
}

function parseEntry(name: string, entry: unknown, dataStart: number, dataLength: number, file: string): SafetensorsTensorInfo {
  const where = `tensor '${name}'`;
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw invalid(file, `${where}: header entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (!isSafetensorsDtype(dtype)) {
    throw new ExecuTorchError('NotSupported', `${file}: ${where} has dtype ${JSON.stringify(dtype)}; supported: ${Object.keys(SAFETENSORS_DTYPES).join(', ')}`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw invalid(file, `${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
    throw invalid(file, `${where}: data_offsets ${JSON.stringify(offsets)} is not a pair [begin, end] of integers with begin <= end`);
  }
  const [begin, end] = offsets as [number, number];
  if (end > dataLength) {
    throw invalid(file, `${where}: data_offsets [${begin}, ${end}] run past the end of the data region (${Math.max(0, dataLength)} bytes; file truncated?)`);
  }
  const numel = (shape as number[]).reduce((a, b) => a * b, 1);
  const expected = numel * dtypeSize(dtype);
  if (!Number.isSafeInteger(expected) || end - begin !== expected) {
    throw invalid(file, `${where}: ${end - begin} data bytes for shape [${shape.join(', ')}] of ${dtype}, expected ${expected}`);
  }
  return { name, dtype, shape: [...(shape as number[])], numel, file, fileOffset: dataStart + begin, byteLength: expected };
}

function checkNoOverlap(tensors: SafetensorsTensorInfo[], dataStart: number, file: string): void {
  const sorted = tensors.filter((t) => t.byteLength > 0).sort((a, b) => a.fileOffset - b.fileOffset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    const cur = sorted[i];
    if (cur.fileOffset < prev.fileOffset + prev.byteLength) {
      const range = (t: SafetensorsTensorInfo) => `[${t.fileOffset - dataStart}, ${t.fileOffset - dataStart + t.byteLength}]`;
      throw invalid(file, `tensors '${prev.name}' ${range(prev)} and '${cur.name}' ${range(cur)} overlap`);
    }
  }
}

export class SafetensorsFile {
  readonly stats: ReadStats = { reads: 0, bytesRead: 0 };
  private handle: fsp.FileHandle | null;

  private constructor(
    readonly path: string,
    handle: fsp.FileHandle,
    readonly fileSize: number,
    readonly headerLength: number,
    private readonly header: SafetensorsHeader,
  ) {
    this.handle = handle;
  }

  /** Opens and validates `file`; tensor data is not read. */
  static async open(file: string): Promise<SafetensorsFile> {
    if (os.endianness() !== 'LE') throw new ExecuTorchError('NotSupported', `${file}: safetensors reading needs a little-endian host`);
    let handle: fsp.FileHandle;
    try {
      handle = await fsp.open(file, 'r');
    } catch (err) {
      throw fsError(err, file, 'opening');
    }
    try {
      return await SafetensorsFile.fromHandle(file, handle);
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
  }

  private static async fromHandle(file: string, handle: fsp.FileHandle): Promise<SafetensorsFile> {
    let size: number;
    try {
      size = (await handle.stat()).size;
    } catch (err) {
      throw fsError(err, file, 'stat');
    }
    if (size < 8) throw invalid(file, `file is ${size} bytes, shorter than the 8-byte header length (truncated or not a .safetensors file)`);
    const stats: ReadStats = { reads: 0, bytesRead: 0 };
    const lengthBytes = new Uint8Array(8);
    await readFully(handle, lengthBytes, 0, file, 'the header length', stats);
    const n = new DataView(lengthBytes.buffer).getBigUint64(0, true);
    if (n > BigInt(size - 8)) throw invalid(file, `header length ${n} runs past the end of the file (${size} bytes; truncated or not a .safetensors file)`);
    if (n > BigInt(MAX_HEADER_BYTES)) throw invalid(file, `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
    const headerLength = Number(n);
    const json = new Uint8Array(headerLength);
    await readFully(handle, json, 8, file, 'the header', stats);
    const header = parseSafetensorsHeader(Buffer.from(json.buffer, 0, headerLength).toString('utf8'), headerLength, size, file);
    const st = new SafetensorsFile(file, handle, size, headerLength, header);
    st.stats.reads = stats.reads;
    st.stats.bytesRead = stats.bytesRead;
    return st;
  }

  get metadata(): Record<string, string> | null {
    return this.header.metadata;
  }

  /** Tensor names in header order. */
  names(): string[] {
    return [...this.header.tensors.keys()];
  }

  has(name: string): boolean {
    return this.header.tensors.has(name);
  }

  info(name: string): SafetensorsTensorInfo {
    const t = this.header.tensors.get(name);
    if (!t) throw new ExecuTorchError('InvalidCheckpoint', `${this.path}: no tensor '${name}'`);
    return t;
  }

  /** The whole tensor as float32 (F32, F16, BF16, F64). */
  async read(name: string): Promise<Float32Array> {
    const t = this.info(name);
    return this.readFloats(t, 0, t.numel);
  }

  /**
   * Rows rowStart .. rowStart + rowCount of a tensor (rows along the first
   * dimension) as float32; only those rows' bytes are read from disk.
   */
  async readRows(name: string, rowStart: number, rowCount: number): Promise<Float32Array> {
    const t = this.info(name);
    const rowElems = this.rowElements(t, rowStart, rowCount);
    return this.readFloats(t, rowStart * rowElems, rowCount * rowElems);
  }

  /** The tensor's bytes as stored, with its dtype (e.g. to keep bf16 weights bf16). */
  async readRaw(name: string): Promise<RawTensor> {
    const t = this.info(name);
    return { dtype: t.dtype, shape: [...t.shape], bytes: await this.readBytes(t, 0, t.byteLength) };
  }

  /** readRaw restricted to rows rowStart .. rowStart + rowCount. */
  async readRawRows(name: string, rowStart: number, rowCount: number): Promise<RawTensor> {
    const t = this.info(name);
    const rowBytes = this.rowElements(t, rowStart, rowCount) * dtypeSize(t.dtype);
    const bytes = await this.readBytes(t, rowStart * rowBytes, rowCount * rowBytes);
    return { dtype: t.dtype, shape: [rowCount, ...t.shape.slice(1)], bytes };
  }

  async close(): Promise<void> {
    const h = this.handle;
    this.handle = null;
    if (h) await h.close();
  }

  private rowElements(t: SafetensorsTensorInfo, rowStart: number, rowCount: number): number {
    if (t.shape.length === 0) throw new ExecuTorchError('InvalidArgument', `${this.path}: tensor '${t.name}' is a scalar; it has no rows`);
    const rows = t.shape[0];
    if (!Number.isSafeInteger(rowStart) || !Number.isSafeInteger(rowCount) || rowStart < 0 || rowCount < 0 || rowStart + rowCount > rows) {
      throw new ExecuTorchError('InvalidArgument', `${this.path}: rows [${rowStart}, ${rowStart + rowCount}) are outside tensor '${t.name}' (${rows} rows)`);
    }
    return t.shape.slice(1).reduce((a, b) => a * b, 1);
  }

  private async readFloats(t: SafetensorsTensorInfo, elemStart: number, count: number): Promise<Float32Array> {
    if (!isFloatDtype(t.dtype)) {
      throw new ExecuTorchError('NotSupported', `${this.path}: tensor '${t.name}' is ${t.dtype}; reading as float32 supports ${FLOAT_DTYPES.join(', ')} (use readRaw)`);
    }
    const out = new Float32Array(count);
    const size = dtypeSize(t.dtype);
    if (t.dtype === 'F32') {
      // Straight into the result: no second copy.
      await this.readInto(t, elemStart * 4, new Uint8Array(out.buffer));
      return out;
    }
    // Other dtypes go through a bounded scratch buffer, decoded one chunk at a time.
    const perChunk = Math.max(1, Math.floor(CHUNK_BYTES / size));
    const scratch = new Uint8Array(Math.min(count, perChunk) * size);
    for (let done = 0; done < count; done += perChunk) {
      const n = Math.min(perChunk, count - done);
      const view = scratch.subarray(0, n * size);
      await this.readInto(t, (elemStart + done) * size, view);
      decodeFloats(t.dtype, view, out, done, n);
    }
    return out;
  }

  private async readBytes(t: SafetensorsTensorInfo, byteStart: number, byteCount: number): Promise<Uint8Array> {
    const bytes = new Uint8Array(byteCount);
    await this.readInto(t, byteStart, bytes);
    return bytes;
  }

  /** Fills `dst` from the tensor's bytes at `byteStart` (relative to the tensor). */
  private async readInto(t: SafetensorsTensorInfo, byteStart: number, dst: Uint8Array): Promise<void> {
    if (!this.handle) throw new ExecuTorchError('Disposed', `${this.path}: read of tensor '${t.name}' after close()`);
    await readFully(this.handle, dst, t.fileOffset + byteStart, this.path, `tensor '${t.name}'`, this.stats);
  }
}

/** Positional reads of at most CHUNK_BYTES each until `dst` is full. */
async function readFully(handle: fsp.FileHandle, dst: Uint8Array, position: number, file: string, what: string, stats: ReadStats): Promise<void> {
  let done = 0;
  while (done < dst.length) {
    const want = Math.min(CHUNK_BYTES, dst.length - done);
    let bytesRead: number;
    try {
      ({ bytesRead } = await handle.read(dst, done, want, position + done));
    } catch (err) {
      throw fsError(err, file, `reading ${what}`);
    }
    stats.reads++;
    stats.bytesRead += bytesRead;
    if (bytesRead === 0) throw invalid(file, `file ended at byte ${position + done} while reading ${what} (truncated or changed after open)`);
    done += bytesRead;
  }
}
