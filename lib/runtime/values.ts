import { isDType } from './dtype';
import { ExecuTorchError } from './errors';
import { NativeValue, NativeValueMeta } from './native';
import { Tensor } from './tensor';

/** What a method takes and returns: tensors and plain scalars. */
export type Value = Tensor | number | bigint | boolean | string | null;

export function toNativeValue(v: Value, index: number): NativeValue {
  if (v instanceof Tensor) return { kind: 'tensor', dtype: v.dtype, shape: [...v.shape], data: v.data };
  if (v === null || v === undefined) return { kind: 'none', value: null };
  switch (typeof v) {
    case 'bigint':
      return { kind: 'int', value: v };
    case 'number':
      return Number.isInteger(v) ? { kind: 'int', value: v } : { kind: 'double', value: v };
    case 'boolean':
      return { kind: 'bool', value: v };
    case 'string':
      return { kind: 'string', value: v };
    default:
      throw new ExecuTorchError('InvalidArgument', `input ${index} is a ${typeof v}; pass a Tensor or a scalar`);
  }
}

/**
 * Like toNativeValue, but a number passed where the method expects a Double
 * stays a Double even when it is integral (2.0 and 2 are the same JS number).
 */
export function toNativeInput(v: Value, index: number, meta: NativeValueMeta | undefined): NativeValue {
  const nv = toNativeValue(v, index);
  if (nv.kind === 'int' && meta?.kind === 'double') return { kind: 'double', value: Number(nv.value) };
  return nv;
}

export function fromNativeValue(v: NativeValue): Value {
  switch (v.kind) {
    case 'tensor': {
      if (!isDType(v.dtype)) throw new ExecuTorchError('NotSupported', `output dtype '${v.dtype}' has no JS representation`);
      return Tensor.fromBytes(v.dtype, v.shape, v.data as ArrayBuffer);
    }
    case 'int':
    case 'double':
    case 'bool':
    case 'string':
      return v.value;
    default:
      return null;
  }
}
