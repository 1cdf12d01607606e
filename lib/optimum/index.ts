export { ExecuTorchModelForCausalLM } from './causal-lm';
export type { GenerateOptions } from './causal-lm';
export { readLLMMetadata } from './metadata';
export type { LLMMetadata } from './metadata';
