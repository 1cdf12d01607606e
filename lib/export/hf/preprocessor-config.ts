// preprocessor_config.json: the image processor's settings (size, rescale, mean and
// std, resampling), which image-text programs carry as constant methods so a runner
// can prepare pixels without the checkpoint.
import * as path from 'path';
import { ExecuTorchError } from '../../runtime/errors';
import { exists, readJsonFile } from './files';
import { JsonObject, isJsonObject } from './json-fields';

export const PREPROCESSOR_CONFIG_NAME = 'preprocessor_config.json';

/** The file's object, or null when the checkpoint has none. */
export async function readPreprocessorConfig(dir: string): Promise<JsonObject | null> {
  const file = path.join(dir, PREPROCESSOR_CONFIG_NAME);
  if (!(await exists(file))) return null;
  const json = await readJsonFile(file);
  if (!isJsonObject(json)) throw new ExecuTorchError('InvalidCheckpoint', `${file}: expected a JSON object`);
  return json;
}
