// The LLM custom ops (llama::*): KV-cache writes and fused attention over the cache.
// Layouts are [B, S, H, D] throughout (executorch-format.md section 4).
import { Graph, SymIntValue, TensorValue, arg } from '../graph';

/** cache[:, start:start+S] = value; returns the op's (dummy) output. */
export function updateCache(g: Graph, value: TensorValue, cache: TensorValue, startPos: SymIntValue): TensorValue {
  const out = g.activation(cache.dtype, [1]);
  return g.call('llama::update_cache', 'out', [arg.v(value), arg.v(cache), arg.v(startPos)], [out]);
}

/** cache[:, indices[b, s]] = value[b, s] (the ring caches of sliding-window layers). */
export function updateCacheWithIndices(
  g: Graph,
  value: TensorValue,
  cache: TensorValue,
  startPos: SymIntValue,
  indices: TensorValue,
): TensorValue {
  const out = g.activation(cache.dtype, [1]);
  return g.call('llama::update_cache_with_indices', 'out', [arg.v(value), arg.v(cache), arg.v(startPos), arg.v(indices)], [out]);
}

/**
 * Attention of q [B,S,Hq,D] over k/v [B,T,Hkv,D]. Without a mask: causal over the first
 * start_pos + S rows of the caches. With an additive mask [S, T]: every row, masked.
 * With start_pos 0, no mask and causal false (encoders): all rows of k and v.
 */
export function customSdpa(
  g: Graph,
  q: TensorValue,
  kCache: TensorValue,
  vCache: TensorValue,
  startPos: SymIntValue | number,
  scale: number,
  mask?: TensorValue,
  causal = !mask,
): TensorValue {
  const out = g.activation(q.dtype, q.shape);
  const args = [
    arg.v(q), arg.v(kCache), arg.v(vCache), typeof startPos === 'number' ? arg.int(startPos) : arg.v(startPos),
    mask ? arg.v(mask) : arg.none(), arg.float(0), arg.bool(causal), arg.float(scale),
  ];
  return g.call('llama::custom_sdpa', 'out', args, [out]);
}
