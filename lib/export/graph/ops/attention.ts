// The LLM custom ops (llama::*): KV-cache writes and fused attention over the cache.
// Layouts are [B, S, H, D] throughout (executorch-format.md section 4).
import { Graph, SymIntValue, TensorValue, arg } from '../graph';

/** cache[:, start:start+S] = value; returns the op's (dummy) output. */
export function updateCache(g: Graph, value: TensorValue, cache: TensorValue, startPos: SymIntValue): TensorValue {
  const out = g.activation(cache.dtype, [1]);
  return g.call('llama::update_cache', 'out', [arg.v(value), arg.v(cache), arg.v(startPos)], [out]);
}

/** Causal attention of q [B,S,Hq,D] over the caches [B,T,Hkv,D] at start_pos. */
export function customSdpa(
  g: Graph,
  q: TensorValue,
  kCache: TensorValue,
  vCache: TensorValue,
  startPos: SymIntValue,
  scale: number,
  mask?: TensorValue,
): TensorValue {
  const out = g.activation(q.dtype, q.shape);
  const args = [
    arg.v(q), arg.v(kCache), arg.v(vCache), arg.v(startPos),
    mask ? arg.v(mask) : arg.none(), arg.float(0), arg.bool(!mask), arg.float(scale),
  ];
  return g.call('llama::custom_sdpa', 'out', args, [out]);
}
