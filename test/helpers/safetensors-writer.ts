// A small .safetensors writer and reader for tests, independent of lib/export/hf:
// writes the format as the reference (Rust) implementation does (8-byte LE header
// length, JSON header padded with spaces to a multiple of 8, tensors back to back
// in listed order), and parses files with plain readFileSync + JSON.parse.
import * as fs from 'fs';

export interface TensorSpec {
  name: string;
  dtype: string;
  shape: number[];
  /** Little-endian element bytes. */
  data: Uint8Array;
}

export function f32Tensor(name: string, shape: number[], values: ArrayLike<number>): TensorSpec {
  return { name, dtype: 'F32', shape, data: new Uint8Array(Float32Array.from(values).buffer) };
}

/** Raw 16-bit patterns (f16 or bf16 bits) as a tensor of that dtype. */
export function bits16Tensor(name: string, dtype: 'F16' | 'BF16', shape: number[], bits: ArrayLike<number>): TensorSpec {
  return { name, dtype, shape, data: new Uint8Array(Uint16Array.from(bits).buffer) };
}

/** The bytes of a safetensors file holding `tensors` (in order) and optional metadata. */
export function encodeSafetensors(tensors: TensorSpec[], metadata?: Record<string, string>): Buffer {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length] };
    offset += t.data.length;
  }
  return encodeRaw(header, Buffer.concat(tensors.map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.length))));
}

/** Any header object + data bytes (for malformed files). */
export function encodeRaw(header: unknown, data: Uint8Array, headerText?: string): Buffer {
  let json = headerText ?? JSON.stringify(header);
  while (Buffer.byteLength(json) % 8 !== 0) json += ' ';
  const jsonBytes = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(jsonBytes.length));
  return Buffer.concat([len, jsonBytes, Buffer.from(data)]);
}

export function writeSafetensors(file: string, tensors: TensorSpec[], metadata?: Record<string, string>): void {
  fs.writeFileSync(file, encodeSafetensors(tensors, metadata));
}

export interface ParsedTensor extends TensorSpec {
  offsets: [number, number];
}

/** Every tensor of a safetensors file, with its bytes copied out (test-sized files only). */
export function parseSafetensorsFile(file: string): ParsedTensor[] {
  const b = fs.readFileSync(file);
  const n = Number(b.readBigUInt64LE(0));
  const header = JSON.parse(b.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out: ParsedTensor[] = [];
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [begin, end] = t.data_offsets;
    const data = new Uint8Array(b.subarray(8 + n + begin, 8 + n + end));
    out.push({ name, dtype: t.dtype, shape: t.shape, data, offsets: t.data_offsets });
  }
  return out;
}

/** Float32 values of an F32 tensor's bytes. */
export function f32Values(t: TensorSpec): Float32Array {
  if (t.dtype !== 'F32') throw new Error(`${t.name} is ${t.dtype}, not F32`);
  return new Float32Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.length));
}
