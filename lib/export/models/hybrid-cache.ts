// The decoder's KV caches and attention masks: a static cache of max_seq_len rows
// for global layers, a ring of 2 x window rows for sliding-window layers (Gemma 3's
// hybrid cache), and the additive masks that say which cached rows each query sees.
//
// Masks are computed in the graph from positions, so one program serves any call:
//   static cache: row c holds position c;
//   ring cache:   row c holds the latest position p < end_pos with p % R == c, i.e.
//                 p = (end_pos - 1) - ((end_pos - 1 - c) mod R), negative = never written.
// A query at position q sees a row holding p when p <= q (causal) and, for a sliding
// layer, p > q - window. With the image-block input, it also sees every p in the
// [start, end) its row names: the bidirectional attention of an image's tokens
// during the prefill (transformers' token_type_ids mask, or-ed into both kinds).
//
// A ring of R = 2W rows takes calls of up to W tokens: writing S tokens at q0.. only
// overwrites positions <= q0 + S - 1 - R, which no query of the call (needing
// positions > q0 - W) reads, as long as S <= R - W + 1.
import { Graph, SymIntValue, TensorValue } from '../graph/graph';
import { customSdpa, updateCache, updateCacheWithIndices } from '../graph/ops/attention';
import { ge, geScalar, le, logicalAnd, logicalOr, lt, where } from '../graph/ops/comparison';
import { addInt, mulInt, remainderInt, subInt } from '../graph/ops/integer';
import { select, view } from '../graph/ops/shape-ops';
import { bytesSource } from '../pte/program-spec';
import { DecoderSpec } from './decoder-spec';

export interface HybridCacheInputs {
  maxSeqLen: number;
  /** cache_position [S] int64. */
  cachePosition: TensorValue;
  startPos: SymIntValue;
  endPos: SymIntValue;
  /** [S, 2] int64: per query, the [start, end) positions of its image block ([0, 0] for text). */
  imageBlock?: TensorValue;
}

/** How a layer's cache is laid out. */
interface CacheKind {
  /** Rows of the cache. */
  rows: number;
  ring: boolean;
  /** Sliding window, or null for global attention. */
  window: number | null;
}

/** The ring length of a sliding-window layer; null when a static cache is as small. */
function ringRows(window: number | null, maxSeqLen: number): number | null {
  return window !== null && 2 * window < maxSeqLen ? 2 * window : null;
}

/** The most tokens one call may carry: rings bound it by their window. */
export function maxTokensPerCall(spec: DecoderSpec, maxSeqLen: number): number {
  let limit = maxSeqLen - 1;
  for (const l of spec.layers) if (ringRows(l.slidingWindow, maxSeqLen) !== null) limit = Math.min(limit, l.slidingWindow!);
  return limit;
}

export class HybridCache {
  private readonly masks = new Map<string, TensorValue | undefined>();
  private readonly ringSlots = new Map<number, { indices: TensorValue; positions: TensorValue }>();
  private readonly scalars = new Map<string, TensorValue>();
  private staticPositions?: TensorValue;
  private queryPositions?: TensorValue;
  private imageBounds?: { start: TensorValue; end: TensorValue };

  constructor(private readonly g: Graph, private readonly spec: DecoderSpec, private readonly inputs: HybridCacheInputs) {}

  /** Writes k and v [1, S, Hkv, D] of layer i into its cache and attends q over it. */
  attend(i: number, q: TensorValue, k: TensorValue, v: TensorValue): TensorValue {
    const { g, spec, inputs } = this;
    const kind = this.kind(i);
    const shape = [1, kind.rows, spec.numKvHeads, spec.headDim];
    const kCache = g.state(`k_cache.${i}`, 'float32', shape);
    const vCache = g.state(`v_cache.${i}`, 'float32', shape);
    if (kind.ring) {
      const { indices } = this.ring(kind.rows);
      updateCacheWithIndices(g, k, kCache, inputs.startPos, indices);
      updateCacheWithIndices(g, v, vCache, inputs.startPos, indices);
    } else {
      updateCache(g, k, kCache, inputs.startPos);
      updateCache(g, v, vCache, inputs.startPos);
    }
    return customSdpa(g, q, kCache, vCache, inputs.startPos, spec.attnScale, this.mask(kind));
  }

  private kind(i: number): CacheKind {
    const { maxSeqLen } = this.inputs;
    const w = this.spec.layers[i].slidingWindow;
    const window = w !== null && w < maxSeqLen ? w : null;
    const ring = ringRows(window, maxSeqLen);
    return { rows: ring ?? maxSeqLen, ring: ring !== null, window };
  }

  /** The additive mask [S, rows] of a kind of layer; undefined = plain causal attention. */
  private mask(kind: CacheKind): TensorValue | undefined {
    const key = `${kind.rows}.${kind.ring}.${kind.window}`;
    if (!this.masks.has(key)) this.masks.set(key, this.buildMask(kind));
    return this.masks.get(key);
  }

  private buildMask(kind: CacheKind): TensorValue | undefined {
    const { g } = this;
    if (!kind.ring && kind.window === null && !this.inputs.imageBlock) return undefined;
    const rowPos = kind.ring ? this.ring(kind.rows).positions : this.staticRowPositions();
    const q = this.queries();
    let allowed = le(g, rowPos, q);
    if (kind.window !== null) allowed = logicalAnd(g, allowed, ge(g, rowPos, subInt(g, q, kind.window - 1)));
    if (kind.ring) allowed = logicalAnd(g, allowed, geScalar(g, rowPos, 0));
    if (this.inputs.imageBlock) {
      const { start, end } = this.image();
      allowed = logicalOr(g, allowed, logicalAnd(g, ge(g, rowPos, start), lt(g, rowPos, end)));
    }
    return where(g, allowed, this.scalar('mask_zero', 0), this.scalar('mask_neg_inf', -Infinity));
  }

  /** Query positions as a column [S, 1]. */
  private queries(): TensorValue {
    const { g, inputs } = this;
    return (this.queryPositions ??= view(g, inputs.cachePosition, [inputs.cachePosition.shape[0], 1]));
  }

  private image(): { start: TensorValue; end: TensorValue } {
    const { g } = this;
    const block = this.inputs.imageBlock!;
    const column = (j: number) => view(g, select(g, block, 1, j), [block.shape[0], 1]);
    return (this.imageBounds ??= { start: column(0), end: column(1) });
  }

  /** 0 .. max_seq_len - 1 as a row [1, max_seq_len]: the positions a static cache holds. */
  private staticRowPositions(): TensorValue {
    const n = this.inputs.maxSeqLen;
    return (this.staticPositions ??= this.int64Row('cache_rows', Array.from({ length: n }, (_, c) => c)));
  }

  /** Where this call's tokens go in a ring of R rows, and the position each row then holds. */
  private ring(rows: number): { indices: TensorValue; positions: TensorValue } {
    let r = this.ringSlots.get(rows);
    if (!r) {
      const { g, inputs } = this;
      const seq = inputs.cachePosition.shape[0];
      const indices = view(g, remainderInt(g, inputs.cachePosition, rows), [1, seq]);
      // last - ((last - c) mod R), with last = end_pos - 1, from a constant row of -c.
      const negRow = this.int64Row(`ring_rows_neg.${rows}`, Array.from({ length: rows }, (_, c) => -c));
      const sinceRow = remainderInt(g, subInt(g, addInt(g, negRow, inputs.endPos), 1), rows);
      const positions = subInt(g, addInt(g, mulInt(g, sinceRow, -1), inputs.endPos), 1);
      r = { indices, positions };
      this.ringSlots.set(rows, r);
    }
    return r;
  }

  private int64Row(name: string, values: number[]): TensorValue {
    const data = new BigInt64Array(values.map(BigInt));
    return this.g.constant(name, 'int64', [1, values.length], bytesSource(new Uint8Array(data.buffer)));
  }

  private scalar(name: string, x: number): TensorValue {
    let t = this.scalars.get(name);
    if (!t) {
      t = this.g.constant(name, 'float32', [], bytesSource(new Uint8Array(new Float32Array([x]).buffer)));
      this.scalars.set(name, t);
    }
    return t;
  }
}
