// RoPE settings per attention layer type, read from either config layout:
// - legacy (transformers <= 4.57): `rope_theta`, `rope_scaling` ({rope_type|type, factor, ...}
//   or null) and, for Gemma 3, `rope_local_base_freq` for the sliding layers (whose RoPE
//   is never scaled: Gemma3TextModel builds its local rotary embedding with rope_type default);
// - transformers 5: `rope_parameters`, flat ({rope_type, rope_theta, factor, ...}) or keyed by
//   layer type ({full_attention: {...}, sliding_attention: {...}}); a missing `rope_theta`
//   inside it falls back to the legacy keys and then to the class default, as
//   `convert_rope_params_to_dict` does.
// The same model written both ways normalizes to the same value.
import { JsonFields } from './json-fields';

export type LayerType = 'full_attention' | 'sliding_attention';
export const LAYER_TYPES: readonly LayerType[] = ['full_attention', 'sliding_attention'];

export type RopeScaling =
  | { type: 'none' }
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number };

/** Same shape as the model builders' RopeSpec. */
export interface RopeConfig {
  theta: number;
  scaling: RopeScaling;
}

export type RopeByLayerType = Record<LayerType, RopeConfig>;

export const SUPPORTED_ROPE_TYPES = ['default', 'linear', 'llama3'] as const;

export interface RopeDefaults {
  /** rope_theta when the config has none (10000 for Llama/Qwen, 1e6 for Gemma 3). */
  theta: number;
  /**
   * Gemma 3: sliding layers have their own base (`rope_local_base_freq`, default 1e4)
   * and never take the global scaling. null: every layer type shares one RoPE.
   */
  local: { key: string; theta: number } | null;
}

export function readRope(f: JsonFields, d: RopeDefaults): RopeByLayerType {
  const fullTheta = positive(f, 'rope_theta', d.theta);
  const localTheta = d.local ? positive(f, d.local.key, d.local.theta) : fullTheta;
  const params = f.child('rope_parameters');
  if (params) return fromRopeParameters(params, fullTheta, localTheta, d.local !== null);
  const scaling = f.child('rope_scaling');
  const full: RopeConfig = { theta: fullTheta, scaling: scaling ? readScaling(scaling) : { type: 'none' } };
  const sliding: RopeConfig = d.local ? { theta: localTheta, scaling: { type: 'none' } } : full;
  return { full_attention: full, sliding_attention: sliding };
}

function fromRopeParameters(p: JsonFields, fullTheta: number, localTheta: number, separateLocal: boolean): RopeByLayerType {
  const keys = Object.keys(p.obj);
  const keyed = keys.length > 0 && keys.every((k) => (LAYER_TYPES as readonly string[]).includes(k));
  const localDefault: RopeConfig = { theta: localTheta, scaling: { type: 'none' } };
  if (!keyed) {
    const flat = readParams(p, fullTheta);
    return { full_attention: flat, sliding_attention: separateLocal ? localDefault : flat };
  }
  const full = p.child('full_attention');
  const sliding = p.child('sliding_attention');
  const fullRope = full ? readParams(full, fullTheta) : { theta: fullTheta, scaling: { type: 'none' } as RopeScaling };
  const slidingRope = sliding ? readParams(sliding, localTheta) : separateLocal ? localDefault : fullRope;
  return { full_attention: fullRope, sliding_attention: slidingRope };
}

function readParams(p: JsonFields, thetaDefault: number): RopeConfig {
  return { theta: positive(p, 'rope_theta', thetaDefault), scaling: readScaling(p) };
}

/** {rope_type (or legacy `type`), factor, ...} -> RopeScaling; unknown types are NotSupported. */
function readScaling(p: JsonFields): RopeScaling {
  const typeKey = p.has('rope_type') ? 'rope_type' : 'type';
  const type = p.str(typeKey, 'default');
  if (type === 'default') return { type: 'none' };
  if (type === 'linear') return { type: 'linear', factor: required(p, 'factor', type) };
  if (type === 'llama3') {
    return {
      type: 'llama3',
      factor: required(p, 'factor', type),
      lowFreqFactor: required(p, 'low_freq_factor', type),
      highFreqFactor: required(p, 'high_freq_factor', type),
      originalMaxPositions: required(p, 'original_max_position_embeddings', type),
    };
  }
  return p.fail(typeKey, `'${type}' is not supported (supported RoPE types: ${SUPPORTED_ROPE_TYPES.join(', ')})`, 'NotSupported');
}

function required(p: JsonFields, key: string, type: string): number {
  if (!p.has(key)) p.fail(key, `is required for ${type} RoPE scaling`);
  return positive(p, key, 0);
}

function positive(f: JsonFields, key: string, def: number): number {
  const v = f.num(key, def);
  if (!(v > 0)) f.fail(key, `must be > 0, got ${v}`);
  return v;
}
