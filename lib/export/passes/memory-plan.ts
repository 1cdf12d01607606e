// Memory planning: every activation and state tensor gets an offset in planned
// buffer 1. Tensors whose lifetimes (first write .. last read, in instruction
// order) overlap never share bytes; the rest reuse space. Greedy by size: the
// largest tensors are placed first, each at the lowest offset that conflicts with
// no placed tensor alive at the same time. Dynamic tensors are planned at their
// upper bound. State (KV caches) and method outputs live for the whole call.
export interface PlanItem {
  id: number;
  bytes: number;
  /** Index of the instruction that first writes it (-1: before the first). */
  start: number;
  /** Index of the last instruction that reads it (Infinity: until the end). */
  end: number;
}

export interface MemoryPlan {
  offsets: Map<number, number>;
  size: number;
}

const ALIGN = 16;

export function planMemory(items: PlanItem[]): MemoryPlan {
  const sorted = [...items].sort((a, b) => b.bytes - a.bytes || a.start - b.start);
  const placed: Array<PlanItem & { offset: number }> = [];
  const offsets = new Map<number, number>();
  let size = 0;
  for (const item of sorted) {
    const busy = placed
      .filter((p) => p.start <= item.end && item.start <= p.end)
      .sort((a, b) => a.offset - b.offset);
    let offset = 0;
    for (const p of busy) {
      if (offset + item.bytes <= p.offset) break;
      offset = Math.max(offset, align(p.offset + p.bytes));
    }
    placed.push({ ...item, offset });
    offsets.set(item.id, offset);
    size = Math.max(size, offset + item.bytes);
  }
  return { offsets, size: align(size) };
}

function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}
