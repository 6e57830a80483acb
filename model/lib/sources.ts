/**
 * The user buffers data comes from.  Each pwrite iovec segment and each mmap
 * store is one source with a fresh id; content spans refer to it by id and
 * offset, so the model knows for every byte which write put it where.
 */
export interface Source {
  readonly id: number;
  /** The byte value the buffer was filled with. */
  readonly fill: number;
  /** `store`: a store into a write's buffer while its I/O is in flight (pos: where that buffer byte was to go). */
  readonly kind: 'pwrite' | 'mmap' | 'store';
  /** The step that issued it. */
  readonly step: number;
  readonly ino: number;
  /** File position the first byte was written to. */
  readonly pos: number;
  readonly len: number;
}

export class SourceTable {
  private readonly list: Source[] = [];

  add(s: Omit<Source, 'id'>): Source {
    const src: Source = { id: this.list.length + 1, ...s };
    this.list.push(src);
    return src;
  }

  get(id: number): Source | undefined {
    return id > 0 ? this.list[id - 1] : undefined;
  }

  get count(): number {
    return this.list.length;
  }
}
