// generation_config.json -> typed generation defaults (what generate() uses when
// the caller does not say). Missing keys take GenerationConfig's defaults.
import { ExecuTorchError } from '../../runtime/errors';
import { readJsonFile } from './files';
import { isJsonObject, JsonFields, JsonObject } from './json-fields';

export interface GenerationConfig {
  bosTokenId: number | null;
  /** eos_token_id as a list (a single id becomes [id]). */
  eosTokenIds: number[];
  padTokenId: number | null;
  doSample: boolean;
  temperature: number;
  topK: number;
  topP: number;
  minP: number | null;
  repetitionPenalty: number;
  /** Prompt + new tokens (GenerationConfig default 20). */
  maxLength: number;
  maxNewTokens: number | null;
  cacheImplementation: string | null;
  file: string;
  raw: JsonObject;
}

export async function readGenerationConfig(file: string): Promise<GenerationConfig> {
  return normalizeGenerationConfig(await readJsonFile(file), file);
}

export function normalizeGenerationConfig(json: unknown, file = 'generation_config.json'): GenerationConfig {
  if (!isJsonObject(json)) throw new ExecuTorchError('InvalidCheckpoint', `${file}: not a JSON object`);
  const f = new JsonFields(json, file);
  return {
    bosTokenId: f.nullableInt('bos_token_id', null),
    eosTokenIds: f.ids('eos_token_id', []),
    padTokenId: f.nullableInt('pad_token_id', null),
    doSample: f.bool('do_sample', false),
    temperature: nonNegative(f, 'temperature', 1.0),
    topK: f.int('top_k', 50, 0),
    topP: nonNegative(f, 'top_p', 1.0),
    minP: f.nullableNum('min_p', null),
    repetitionPenalty: nonNegative(f, 'repetition_penalty', 1.0),
    maxLength: f.int('max_length', 20),
    maxNewTokens: f.nullableInt('max_new_tokens', null),
    cacheImplementation: f.nullableStr('cache_implementation', null),
    file,
    raw: json,
  };
}

function nonNegative(f: JsonFields, key: string, def: number): number {
  const v = f.num(key, def);
  if (v < 0) f.fail(key, `must be >= 0, got ${v}`);
  return v;
}
