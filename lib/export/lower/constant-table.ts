import { ByteSource } from '../pte/program-spec';

/**
 * The program's constant tensor data (the constant segment), shared by its
 * methods. Entry 0 is the schema's "no data". A source added twice is stored once,
 * and so is one the aliases map to a source of the same bytes (passes/constant-dedup).
 */
export class ConstantTable {
  readonly sources: ByteSource[] = [{ size: 0, read: () => new Uint8Array(0) }];
  private readonly index = new Map<ByteSource, number>();

  constructor(private readonly aliases: ReadonlyMap<ByteSource, ByteSource> = new Map()) {}

  add(added: ByteSource): number {
    const source = this.aliases.get(added) ?? added;
    let i = this.index.get(source);
    if (i === undefined) {
      i = this.sources.push(source) - 1;
      this.index.set(source, i);
    }
    return i;
  }
}
