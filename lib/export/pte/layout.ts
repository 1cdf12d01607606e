// Byte-level constants and helpers of the .pte layout, as the official serializer
// (exir/_serialize/_program.py) writes it.

/** Each segment starts at a multiple of this, relative to segment_base_offset (ExecutorchBackendConfig default). */
export const SEGMENT_ALIGNMENT = 128;
/** Constant tensors inside the constant segment start at multiples of this (exir/tensor.py ALIGNMENT). */
export const CONSTANT_TENSOR_ALIGNMENT = 16;
/** Alignment the XNNPACK writer asks for its named data (CONSTANT_TENSOR_ALIGNMENT of xnnpack_graph_serialize.py). */
export const NAMED_DATA_ALIGNMENT = 16;
/** Program.version as exir/version.py writes it. */
export const PROGRAM_VERSION = 0;
/** The eh00 header: magic, length, program_size, segment_base_offset, segment_data_size. */
export const EXTENDED_HEADER_LENGTH = 32;
/** The header is padded to the largest force_align of the schema (16): 32 stays 32. */
export const PADDED_EXTENDED_HEADER_LENGTH = 32;
export const EXTENDED_HEADER_MAGIC = 'eh00';
export const PROGRAM_IDENTIFIER = 'ET12';

export function paddingRequired(offset: number, alignment: number): number {
  const r = offset % alignment;
  return r === 0 ? 0 : alignment - r;
}

export function alignUp(offset: number, alignment: number): number {
  return offset + paddingRequired(offset, alignment);
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

export function lcm(a: number, b: number): number {
  return (a / gcd(a, b)) * b;
}

/** The 32 bytes of the eh00 extended header (little-endian). */
export function extendedHeaderBytes(programSize: number, segmentBaseOffset: number, segmentDataSize: number): Uint8Array {
  const out = new Uint8Array(PADDED_EXTENDED_HEADER_LENGTH);
  const dv = new DataView(out.buffer);
  out.set(Buffer.from(EXTENDED_HEADER_MAGIC, 'ascii'), 0);
  dv.setUint32(4, EXTENDED_HEADER_LENGTH, true);
  dv.setBigUint64(8, BigInt(programSize), true);
  dv.setBigUint64(16, BigInt(segmentBaseOffset), true);
  dv.setBigUint64(24, BigInt(segmentDataSize), true);
  return out;
}

export interface ExtendedHeader {
  length: number;
  programSize: number;
  segmentBaseOffset: number;
  segmentDataSize: number;
}

/** Reads the eh00 header of .pte bytes, or null when there is none. */
export function readExtendedHeader(bytes: Uint8Array): ExtendedHeader | null {
  if (bytes.length < 8 + 24) return null;
  if (Buffer.from(bytes.buffer, bytes.byteOffset + 8, 4).toString('latin1') !== EXTENDED_HEADER_MAGIC) return null;
  const dv = new DataView(bytes.buffer, bytes.byteOffset + 8);
  const length = dv.getUint32(4, true);
  return {
    length,
    programSize: Number(dv.getBigUint64(8, true)),
    segmentBaseOffset: Number(dv.getBigUint64(16, true)),
    segmentDataSize: length >= 32 && bytes.length >= 40 ? Number(dv.getBigUint64(24, true)) : 0,
  };
}
