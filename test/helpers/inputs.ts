import { Tensor } from '../../lib';
import type { MethodMeta } from '../../lib';
import { typedArrayCtor, isDType } from '../../lib/runtime/dtype';

/** Small seeded PRNG (mulberry32): tests must be reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Inputs matching a method's signature (zeros, or small values from `random`),
 * or undefined when an input would be larger than `maxElements`.
 */
export function inputsFor(meta: MethodMeta, maxElements: number, random?: () => number): Array<Tensor | number | boolean | string | bigint | null> | undefined {
  const out: Array<Tensor | number | boolean | string | bigint | null> = [];
  for (const i of meta.inputs) {
    if (i.kind !== 'tensor') {
      out.push(i.value === undefined ? null : (i.value as number | boolean | string | bigint));
      continue;
    }
    const shape = i.shape ?? [];
    const n = shape.reduce((a, b) => a * b, 1);
    if (n > maxElements || shape.some((d) => d < 0) || !i.dtype || !isDType(i.dtype)) return undefined;
    const Ctor = typedArrayCtor(i.dtype);
    const data = new Ctor(new ArrayBuffer(n * Ctor.BYTES_PER_ELEMENT));
    if (random && (i.dtype === 'float32' || i.dtype === 'float64'))
      for (let k = 0; k < n; k++) (data as Float32Array)[k] = random() * 2 - 1;
    out.push(new Tensor(data, shape, i.dtype));
  }
  return out;
}
