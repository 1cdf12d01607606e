import { AnyTypedArray, DType, TypedArrayFor, bytesPerElement, dtypeOf, isDType, typedArrayCtor } from './dtype';
import { ExecuTorchError } from './errors';
import { bfloat16BitsToFloat32, float16BitsToFloat32, float32ToBFloat16Bits, float32ToFloat16Bits } from './half';

/**
 * A dense, row-major tensor held in a TypedArray. int64 data is a
 * BigInt64Array; bool is a Uint8Array of 0/1; float16 and bfloat16 are raw
 * bits in a Uint16Array (see `Tensor.fromFloat32` and `toFloat32`).
 */
export class Tensor<D extends DType = DType> {
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly data: TypedArrayFor<D>;

  constructor(data: TypedArrayFor<D> | AnyTypedArray | number[] | bigint[], shape?: readonly number[], dtype?: D) {
    if (dtype !== undefined && !isDType(dtype)) throw new ExecuTorchError('InvalidArgument', `unknown dtype '${String(dtype)}'`);
    const typed = Array.isArray(data) ? fromPlainArray(data, dtype) : data;
    const inferred = (dtype ?? dtypeOf(typed as AnyTypedArray)) as D;
    const ctor = typedArrayCtor(inferred);
    if (!(typed instanceof (ctor as unknown as Function)))
      throw new ExecuTorchError(
        'InvalidArgument',
        `dtype '${inferred}' needs a ${ctor.name}, got ${(typed as object).constructor.name}`,
      );
    const dims = shape ?? [typed.length];
    for (const d of dims)
      if (!Number.isInteger(d) || d < 0) throw new ExecuTorchError('InvalidArgument', `invalid shape [${dims.join(', ')}]`);
    const numel = dims.reduce((a, b) => a * b, 1);
    if (numel !== typed.length)
      throw new ExecuTorchError(
        'InvalidArgument',
        `shape [${dims.join(', ')}] has ${numel} elements but the data has ${typed.length}`,
      );
    this.dtype = inferred;
    this.shape = Object.freeze([...dims]);
    this.data = typed as TypedArrayFor<D>;
  }

  get numel(): number {
    return this.data.length;
  }

  get byteLength(): number {
    return this.data.length * bytesPerElement(this.dtype);
  }

  /** Builds a float16 or bfloat16 tensor from float32 values (round to nearest even). */
  static fromFloat32(values: Float32Array | number[], shape: readonly number[], dtype: 'float16' | 'bfloat16'): Tensor<'float16' | 'bfloat16'> {
    const conv = dtype === 'float16' ? float32ToFloat16Bits : float32ToBFloat16Bits;
    const bits = new Uint16Array(values.length);
    for (let i = 0; i < values.length; i++) bits[i] = conv(values[i]);
    return new Tensor(bits, shape, dtype);
  }

  /** Values as float32 (from any numeric dtype; int64 beyond 2^24 loses precision). */
  toFloat32(): Float32Array {
    const out = new Float32Array(this.numel);
    const d = this.data as AnyTypedArray;
    if (this.dtype === 'float16') for (let i = 0; i < out.length; i++) out[i] = float16BitsToFloat32(d[i] as number);
    else if (this.dtype === 'bfloat16') for (let i = 0; i < out.length; i++) out[i] = bfloat16BitsToFloat32(d[i] as number);
    else for (let i = 0; i < out.length; i++) out[i] = Number(d[i]);
    return out;
  }

  toString(): string {
    return `Tensor(${this.dtype}[${this.shape.join(', ')}])`;
  }

  /** Wraps bytes returned by the engine (copied out of its memory, so owned by this tensor). */
  static fromBytes(dtype: DType, shape: readonly number[], buffer: ArrayBuffer): Tensor {
    const ctor = typedArrayCtor(dtype);
    const data = new ctor(buffer, 0, buffer.byteLength / ctor.BYTES_PER_ELEMENT);
    return new Tensor(data, shape, dtype);
  }
}

function fromPlainArray(values: number[] | bigint[], dtype: DType | undefined): AnyTypedArray {
  const d = dtype ?? (values.length > 0 && typeof values[0] === 'bigint' ? 'int64' : 'float32');
  if (d === 'float16' || d === 'bfloat16') {
    const conv = d === 'float16' ? float32ToFloat16Bits : float32ToBFloat16Bits;
    return Uint16Array.from(values as number[], (v) => conv(Number(v)));
  }
  if (d === 'int64') return BigInt64Array.from(values as (number | bigint)[], (v) => BigInt(v));
  if (d === 'uint64') return BigUint64Array.from(values as (number | bigint)[], (v) => BigInt(v));
  const ctor = typedArrayCtor(d) as unknown as { from(v: ArrayLike<number>): AnyTypedArray };
  return ctor.from((values as (number | bigint)[]).map((v) => (typeof v === 'bigint' ? Number(v) : v)));
}
