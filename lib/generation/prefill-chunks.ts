// Splitting a prompt into decoder calls: at most `maxPerCall` tokens each (the
// program's bound, e.g. a sliding window), never cutting an image block, whose
// tokens must be in one call to attend to each other.
import { ExecuTorchError } from '../runtime/errors';
import { PositionRange } from './image-blocks';

export function planPrefillChunks(length: number, maxPerCall: number, blocks: readonly PositionRange[] = []): PositionRange[] {
  if (!Number.isInteger(maxPerCall) || maxPerCall < 1)
    throw new ExecuTorchError('InvalidArgument', `tokens per call must be a positive integer, got ${maxPerCall}`);
  for (const b of blocks)
    if (b.end - b.start > maxPerCall)
      throw new ExecuTorchError(
        'InvalidArgument',
        `an image block of ${b.end - b.start} tokens (positions ${b.start}..${b.end - 1}) does not fit in one call of at most ${maxPerCall} tokens`,
      );
  const chunks: PositionRange[] = [];
  let start = 0;
  while (start < length) {
    let end = Math.min(length, start + maxPerCall);
    // Stop before a block the chunk would cut (it starts inside and ends beyond).
    const cut = blocks.find((b) => b.start > start && b.start < end && b.end > end);
    if (cut) end = cut.start;
    chunks.push({ start, end });
    start = end;
  }
  return chunks;
}
