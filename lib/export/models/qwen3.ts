// Qwen 3: RMSNorm of q and k per head before RoPE, no q/k/v bias by default.
import { TextArchitecture, baseDecoderSpec } from './architecture';

export const qwen3: TextArchitecture = {
  modelTypes: ['qwen3'],
  decoderSpec: (text) => ({ ...baseDecoderSpec(text), qkNorm: true }),
};
