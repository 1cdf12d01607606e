export { ExecuTorchModelForCausalLM } from './causal-lm';
export type { GenerateOptions } from './causal-lm';
export { readLLMMetadata } from './metadata';
export type { LLMMetadata } from './metadata';
export { CausalLMExportableModule, loadCausalLMModel } from './causal-lm-export';
export type { CausalLMExportOptions } from './causal-lm-export';
export { exportToExecuTorchWithXnnpack } from './export-xnnpack';
export type { ExportableModule, ExportedProgram, ExportOptions, ExportPhase, ExportProgress } from './export-xnnpack';
export type { QEmbeddingOption, QLinearOption } from './quantization-options';
export {
  ImageTextToTextExportableModule,
  loadImageTextToTextModel,
} from './image-text-export';
export type { ImageTextExportOptions } from './image-text-export';
export {
  ImageEncoderExportableModule,
  TokenEmbeddingExportableModule,
  TorchExportableModuleForImageTextLM,
  TorchExportableModuleWithHybridCache,
} from './exportable-modules';
