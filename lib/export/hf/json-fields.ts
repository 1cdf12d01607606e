// Typed reads of fields of a JSON config object. Hugging Face configs omit keys
// that have their default, and write null for "unset"; each reader takes the
// default the config class would use, and a failure names the file and the key path
// (e.g. "config.json: text_config.hidden_size must be a positive integer, got -1").
import { ExecuTorchError } from '../../runtime/errors';

export type JsonObject = Record<string, unknown>;

export function isJsonObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export class JsonFields {
  constructor(readonly obj: JsonObject, readonly file: string, readonly prefix = '') {}

  /** "text_config.hidden_size" for messages. */
  path(key: string): string {
    return this.prefix + key;
  }

  /** Present with a non-null value. */
  has(key: string): boolean {
    return this.obj[key] !== undefined && this.obj[key] !== null;
  }

  /** Present at all (null included): HF passes an explicit null through as None. */
  present(key: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.obj, key);
  }

  raw(key: string): unknown {
    return this.obj[key];
  }

  fail(key: string, what: string, code: 'InvalidCheckpoint' | 'NotSupported' = 'InvalidCheckpoint'): never {
    throw new ExecuTorchError(code, `${this.file}: ${this.path(key)} ${what}`);
  }

  /** A positive integer; missing or null -> `def`. */
  int(key: string, def: number, min = 1): number {
    if (!this.has(key)) return def;
    const v = this.obj[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) this.fail(key, `must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    return v;
  }

  /** An integer that may be null: missing -> `def`, null -> null. */
  nullableInt(key: string, def: number | null, min = 0): number | null {
    if (!this.present(key)) return def;
    if (this.obj[key] === null) return null;
    return this.int(key, 0, min);
  }

  /** A finite number; missing or null -> `def`. */
  num(key: string, def: number): number {
    if (!this.has(key)) return def;
    const v = this.obj[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(key, `must be a number, got ${JSON.stringify(v)}`);
    return v;
  }

  /** A number that may be null: missing -> `def`, null -> null. */
  nullableNum(key: string, def: number | null): number | null {
    if (!this.present(key)) return def;
    if (this.obj[key] === null) return null;
    return this.num(key, 0);
  }

  bool(key: string, def: boolean): boolean {
    if (!this.has(key)) return def;
    const v = this.obj[key];
    if (typeof v !== 'boolean') this.fail(key, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  str(key: string, def: string): string {
    if (!this.has(key)) return def;
    const v = this.obj[key];
    if (typeof v !== 'string') this.fail(key, `must be a string, got ${JSON.stringify(v)}`);
    return v;
  }

  nullableStr(key: string, def: string | null): string | null {
    if (!this.present(key)) return def;
    if (this.obj[key] === null) return null;
    return this.str(key, '');
  }

  /** A token id or a list of them (eos_token_id); missing -> `def`, null -> []. */
  ids(key: string, def: number[]): number[] {
    if (!this.present(key)) return def;
    const v = this.obj[key];
    if (v === null) return [];
    const list = Array.isArray(v) ? v : [v];
    if (!list.every((x) => Number.isSafeInteger(x) && (x as number) >= 0)) this.fail(key, `must be a token id or a list of them, got ${JSON.stringify(v)}`);
    return list as number[];
  }

  stringList(key: string): string[] | null {
    if (!this.has(key)) return null;
    const v = this.obj[key];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) this.fail(key, `must be a list of strings, got ${JSON.stringify(v)}`);
    return v as string[];
  }

  /** A nested object as JsonFields (prefix extended); missing or null -> null. */
  child(key: string): JsonFields | null {
    if (!this.has(key)) return null;
    const v = this.obj[key];
    if (!isJsonObject(v)) this.fail(key, `must be an object, got ${JSON.stringify(v)}`);
    return new JsonFields(v, this.file, `${this.path(key)}.`);
  }
}
