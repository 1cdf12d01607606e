// model.safetensors.index.json: {"metadata": {...}, "weight_map": {tensor: shard file}},
// how transformers splits big checkpoints into model-0000k-of-0000n.safetensors.
import * as path from 'path';
import { ExecuTorchError } from '../../runtime/errors';
import { readJsonFile } from './files';
import { isJsonObject } from './json-fields';

export const SHARD_INDEX_NAME = 'model.safetensors.index.json';

export interface ShardIndex {
  file: string;
  /** Tensor name -> shard file name (relative to the checkpoint folder). */
  weightMap: Map<string, string>;
  /** Distinct shard file names in first-listed order. */
  shards: string[];
}

export async function readShardIndex(file: string): Promise<ShardIndex> {
  return parseShardIndex(await readJsonFile(file), file);
}

export function parseShardIndex(json: unknown, file: string): ShardIndex {
  const bad = (what: string) => new ExecuTorchError('InvalidCheckpoint', `${file}: ${what}`);
  if (!isJsonObject(json)) throw bad('not a JSON object');
  const map = json.weight_map;
  if (!isJsonObject(map)) throw bad('weight_map is missing or not an object of tensor name -> shard file');
  const weightMap = new Map<string, string>();
  const shards: string[] = [];
  for (const [tensor, shard] of Object.entries(map)) {
    if (typeof shard !== 'string' || !isPlainRelative(shard)) {
      throw bad(`weight_map['${tensor}'] = ${JSON.stringify(shard)} is not a file name inside the checkpoint folder`);
    }
    weightMap.set(tensor, shard);
    if (!shards.includes(shard)) shards.push(shard);
  }
  if (weightMap.size === 0) throw bad('weight_map lists no tensors');
  return { file, weightMap, shards };
}

/** A relative path that stays inside the folder (no absolute paths, no '..'). */
function isPlainRelative(p: string): boolean {
  if (p.length === 0 || path.isAbsolute(p) || p.includes('\0')) return false;
  return !p.split(/[\\/]/).some((seg) => seg === '..');
}
