// float16 / bfloat16 <-> float32 conversions (round to nearest even), for
// tensors whose data is held as raw Uint16Array bits.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function float32ToBFloat16Bits(value: number): number {
  f32[0] = value;
  const bits = u32[0];
  if (Number.isNaN(value)) return ((bits >>> 16) | 0x40) & 0xffff;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bfloat16BitsToFloat32(bits: number): number {
  u32[0] = (bits & 0xffff) << 16;
  return f32[0];
}

export function float16BitsToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export function float32ToFloat16Bits(value: number): number {
  f32[0] = value;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  if (Number.isNaN(value)) return sign | 0x7e00;
  const a = Math.abs(f32[0]);
  if (a >= 65520) return sign | 0x7c00;
  if (a < 6.103515625e-5) return sign | Math.round(roundHalfEven(a * 16777216));
  const abits = bits & 0x7fffffff;
  const rounded = abits + 0xfff + ((abits >>> 13) & 1);
  return sign | (((rounded - (112 << 23)) >>> 13) & 0x7fff);
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
