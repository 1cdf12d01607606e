export { ExecuTorchModelForCausalLM } from './causal-lm';
export type { GenerateOptions } from './causal-lm';
export { readLLMMetadata } from './metadata';
export type { LLMMetadata } from './metadata';
export { CausalLMExportableModule, exportToExecuTorchWithXnnpack, loadCausalLMModel } from './causal-lm-export';
export type { CausalLMExportOptions, ExportedProgram, ExportOptions } from './causal-lm-export';
