// File-system helpers shared by the checkpoint readers: every fs failure becomes
// an ExecuTorchError that names the file (NotFound for a missing one, IoError else).
import { promises as fsp } from 'fs';
import { ExecuTorchError } from '../../runtime/errors';

export function fsError(err: unknown, file: string, action: string): ExecuTorchError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return new ExecuTorchError('NotFound', `${file}: no such file or directory`, { cause: err });
  if (code === 'ENOTDIR') return new ExecuTorchError('NotFound', `${file}: a parent of this path is not a directory`, { cause: err });
  const why = err instanceof Error ? err.message : String(err);
  return new ExecuTorchError('IoError', `${file}: ${action} failed: ${why}`, { cause: err });
}

export async function exists(file: string): Promise<boolean> {
  try {
    await fsp.access(file);
    return true;
  } catch {
    return false;
  }
}

/** Reads and parses a JSON file; malformed JSON is an InvalidCheckpoint naming the file. */
export async function readJsonFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    throw fsError(err, file, 'reading');
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ExecuTorchError('InvalidCheckpoint', `${file}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
}

/** Throws NotFound unless `dir` is an existing directory. */
export async function requireDirectory(dir: string): Promise<void> {
  let stat;
  try {
    stat = await fsp.stat(dir);
  } catch (err) {
    throw fsError(err, dir, 'opening the checkpoint directory');
  }
  if (!stat.isDirectory()) throw new ExecuTorchError('NotFound', `${dir}: not a directory (a checkpoint is a folder with config.json and *.safetensors)`);
}
