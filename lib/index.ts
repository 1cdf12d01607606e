// The package's public face.
export {
  Program,
  Tensor,
  ExecuTorchError,
  float16BitsToFloat32,
  float32ToFloat16Bits,
  bfloat16BitsToFloat32,
  float32ToBFloat16Bits,
} from './runtime';
export type { DType, AnyTypedArray, MethodMeta, ProgramInfo, ProgramLoadOptions, Value, ExecuTorchErrorCode } from './runtime';
export {
  CausalLMExportableModule,
  ExecuTorchModelForCausalLM,
  exportToExecuTorchWithXnnpack,
  loadCausalLMModel,
  readLLMMetadata,
  ImageTextToTextExportableModule,
  loadImageTextToTextModel,
  ImageEncoderExportableModule,
  TokenEmbeddingExportableModule,
  TorchExportableModuleForImageTextLM,
  TorchExportableModuleWithHybridCache,
} from './optimum';
export type { ImageTextExportOptions } from './optimum';
export type { CausalLMExportOptions, ExportedProgram, ExportOptions, ExportPhase, ExportProgress, GenerateOptions, LLMMetadata } from './optimum';
