// Llama 2/3 and SmolLM (model_type llama): the base decoder as it is.
import { TextArchitecture, baseDecoderSpec } from './architecture';

export const llama: TextArchitecture = {
  modelTypes: ['llama'],
  decoderSpec: (text) => baseDecoderSpec(text),
};
