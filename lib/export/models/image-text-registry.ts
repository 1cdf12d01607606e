// The image-text architectures the exporter knows, by config model_type.
import { ExecuTorchError } from '../../runtime/errors';
import { gemma3ImageText } from './gemma3-vision';
import { ImageTextArchitecture } from './image-text-architecture';

export const IMAGE_TEXT_ARCHITECTURES: readonly ImageTextArchitecture[] = [gemma3ImageText];

export function imageTextArchitecture(modelType: string, where: string): ImageTextArchitecture {
  const arch = IMAGE_TEXT_ARCHITECTURES.find((a) => a.modelTypes.includes(modelType));
  if (!arch) {
    const known = IMAGE_TEXT_ARCHITECTURES.flatMap((a) => a.modelTypes).join(', ');
    throw new ExecuTorchError('NotSupported', `${where}: model_type '${modelType}' is not an image-text model the exporter supports (supported: ${known})`);
  }
  return arch;
}
