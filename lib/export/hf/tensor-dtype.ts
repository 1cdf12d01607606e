// The element types a .safetensors header may name, their sizes, and the
// conversions of the float ones to float32 (what the exporter computes in).
import { float16BitsToFloat32 } from '../../runtime/half';

/** Every fixed-size dtype of the safetensors format (the header validates sizes for all of them). */
export const SAFETENSORS_DTYPES = {
  F64: 8, F32: 4, F16: 2, BF16: 2,
  I64: 8, I32: 4, I16: 2, I8: 1,
  U64: 8, U32: 4, U16: 2, U8: 1,
  BOOL: 1, F8_E4M3: 1, F8_E5M2: 1,
} as const;

export type SafetensorsDtype = keyof typeof SAFETENSORS_DTYPES;

/** The dtypes `read` / `readRows` convert to float32. */
export const FLOAT_DTYPES: readonly SafetensorsDtype[] = ['F32', 'F16', 'BF16', 'F64'];

export function isSafetensorsDtype(d: unknown): d is SafetensorsDtype {
  return typeof d === 'string' && Object.prototype.hasOwnProperty.call(SAFETENSORS_DTYPES, d);
}

export function dtypeSize(d: SafetensorsDtype): number {
  return SAFETENSORS_DTYPES[d];
}

export function isFloatDtype(d: SafetensorsDtype): boolean {
  return FLOAT_DTYPES.includes(d);
}

// A 65536-entry table turns f16 decoding into one lookup per element; built on
// first use (256 KiB) so checkpoints without f16 never pay for it.
let f16Table: Float32Array | null = null;
function float16Table(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let b = 0; b < 65536; b++) f16Table[b] = float16BitsToFloat32(b);
  }
  return f16Table;
}

/**
 * Decodes `count` little-endian elements of a float dtype from `src` into
 * `dst[dstOffset ..]`. `src` must start at a multiple of the element size
 * within its ArrayBuffer (the reader allocates its buffers so it does).
 */
export function decodeFloats(dtype: SafetensorsDtype, src: Uint8Array, dst: Float32Array, dstOffset: number, count: number): void {
  switch (dtype) {
    case 'F32':
      dst.set(new Float32Array(src.buffer, src.byteOffset, count), dstOffset);
      return;
    case 'BF16': {
      // bf16 is the top half of a float32: shifting the bits is exact.
      const bits = new Uint16Array(src.buffer, src.byteOffset, count);
      const out = new Uint32Array(dst.buffer, dst.byteOffset + dstOffset * 4, count);
      for (let i = 0; i < count; i++) out[i] = bits[i] << 16;
      return;
    }
    case 'F16': {
      const bits = new Uint16Array(src.buffer, src.byteOffset, count);
      const table = float16Table();
      for (let i = 0; i < count; i++) dst[dstOffset + i] = table[bits[i]];
      return;
    }
    case 'F64': {
      const v = new Float64Array(src.buffer, src.byteOffset, count);
      for (let i = 0; i < count; i++) dst[dstOffset + i] = v[i];
      return;
    }
    default:
      throw new Error(`decodeFloats: ${dtype} is not a float dtype`);
  }
}
