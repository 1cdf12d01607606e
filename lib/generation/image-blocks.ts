// Image blocks of a prompt: the contiguous runs of image tokens (one run per image),
// which Gemma 3 attends bidirectionally during the prefill, and the per-position
// bounds an image-text program's `image_block` input takes.

/** A half-open range of positions [start, end). */
export interface PositionRange {
  start: number;
  end: number;
}

/** The runs of `imageTokenId` in the tokens, in order. */
export function imageBlocks(tokens: readonly number[], imageTokenId: number): PositionRange[] {
  const blocks: PositionRange[] = [];
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i] !== imageTokenId) continue;
    const last = blocks[blocks.length - 1];
    if (last && last.end === i) last.end = i + 1;
    else blocks.push({ start: i, end: i + 1 });
  }
  return blocks;
}

/**
 * `image_block` rows for positions [from, to): each position's block as [start, end),
 * [0, 0] outside blocks. Flattened [to - from, 2], as int64.
 */
export function imageBlockRows(from: number, to: number, blocks: readonly PositionRange[]): BigInt64Array {
  const rows = new BigInt64Array((to - from) * 2);
  for (const b of blocks) {
    for (let p = Math.max(b.start, from); p < Math.min(b.end, to); p++) {
      rows[(p - from) * 2] = BigInt(b.start);
      rows[(p - from) * 2 + 1] = BigInt(b.end);
    }
  }
  return rows;
}
