export { Program } from './program';
export type { MethodMeta, ProgramInfo, ProgramLoadOptions } from './program';
export { Tensor } from './tensor';
export type { DType, AnyTypedArray } from './dtype';
export { ExecuTorchError } from './errors';
export type { ExecuTorchErrorCode } from './errors';
export type { Value } from './values';
export {
  float16BitsToFloat32,
  float32ToFloat16Bits,
  bfloat16BitsToFloat32,
  float32ToBFloat16Bits,
} from './half';
