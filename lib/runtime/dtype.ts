import { ExecuTorchError } from './errors';

/** Element types a Tensor can hold (names as in PyTorch). */
export type DType =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'bfloat16'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'bool';

export type TypedArrayFor<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : D extends 'float16' | 'bfloat16' | 'uint16'
      ? Uint16Array
      : D extends 'int8'
        ? Int8Array
        : D extends 'uint8' | 'bool'
          ? Uint8Array
          : D extends 'int16'
            ? Int16Array
            : D extends 'int32'
              ? Int32Array
              : D extends 'uint32'
                ? Uint32Array
                : D extends 'int64'
                  ? BigInt64Array
                  : D extends 'uint64'
                    ? BigUint64Array
                    : never;

export type AnyTypedArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

type ArrayCtor = { new (buffer: ArrayBuffer, byteOffset?: number, length?: number): AnyTypedArray; BYTES_PER_ELEMENT: number };

const CTORS: Record<DType, ArrayCtor> = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  bfloat16: Uint16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
};

export const DTYPES = Object.keys(CTORS) as DType[];

export function isDType(name: string): name is DType {
  return Object.prototype.hasOwnProperty.call(CTORS, name);
}

export function typedArrayCtor(dtype: DType): ArrayCtor {
  const ctor = CTORS[dtype];
  if (!ctor) throw new ExecuTorchError('InvalidArgument', `unknown dtype '${String(dtype)}'`);
  return ctor;
}

export function bytesPerElement(dtype: DType): number {
  return typedArrayCtor(dtype).BYTES_PER_ELEMENT;
}

/** The dtype a TypedArray stands for when none is given (Uint16Array is ambiguous: uint16). */
export function dtypeOf(data: AnyTypedArray): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Uint16Array) return 'uint16';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint32Array) return 'uint32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof BigUint64Array) return 'uint64';
  throw new ExecuTorchError('InvalidArgument', 'Tensor data must be a TypedArray');
}
