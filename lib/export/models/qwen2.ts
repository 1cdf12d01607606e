// Qwen 2 / 2.5: Llama with biases on the q, k and v projections.
import { TextArchitecture, baseDecoderSpec } from './architecture';

export const qwen2: TextArchitecture = {
  modelTypes: ['qwen2'],
  decoderSpec: (text) => ({ ...baseDecoderSpec(text), qkvBias: true }),
};
