/**
 * Block placement as a scenario compares it (a fiemap step with
 * `"placement": true`, docs/scenario-format.md): where the extents are
 * relative to one another, not where they are.  Each run (the model's, the
 * kernel's) takes as its origin the physical address of the first extent
 * the first such step reports; every placement step then gives its extents
 * as [logical, physical - origin, length] in bytes, records that continue
 * one another both logically and physically merged (how many records a
 * file system keeps is not placement).  Contiguity, the distance between
 * files and between a file's extents, and how many separate pieces a
 * pattern of writes leaves are compared; the absolute block numbers, which
 * depend on mkfs and on earlier runs' metadata, are not.
 */
export type Placement = Array<[number, number, number]>;

/** Per run: the origin, once the first placement step has reported an extent. */
export class PlacementOrigin {
  private origin: number | null = null;

  of(extents: ReadonlyArray<{ readonly logical: number; readonly physical: number; readonly length: number }>): Placement {
    const out: Placement = [];
    for (const e of extents) {
      this.origin ??= e.physical;
      const rel = e.physical - this.origin;
      const last = out[out.length - 1];
      if (last !== undefined && last[0] + last[2] === e.logical && last[1] + last[2] === rel) last[2] += e.length;
      else out.push([e.logical, rel, e.length]);
    }
    return out;
  }
}
