// The text architectures the exporter knows, by config model_type.
import { ExecuTorchError } from '../../runtime/errors';
import { TextArchitecture } from './architecture';
import { gemma3Text } from './gemma3-text';
import { llama } from './llama';
import { qwen2 } from './qwen2';
import { qwen3 } from './qwen3';

export const TEXT_ARCHITECTURES: readonly TextArchitecture[] = [llama, qwen2, qwen3, gemma3Text];

export function textArchitecture(modelType: string, where: string): TextArchitecture {
  const arch = TEXT_ARCHITECTURES.find((a) => a.modelTypes.includes(modelType));
  if (!arch) {
    const known = TEXT_ARCHITECTURES.flatMap((a) => a.modelTypes).join(', ');
    throw new ExecuTorchError('NotSupported', `${where}: model_type '${modelType}' is not supported (supported: ${known})`);
  }
  return arch;
}
