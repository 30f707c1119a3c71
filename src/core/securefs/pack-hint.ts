// The `changed` hint of a live packer (fs pack --watch): which source paths the next pack must
// re-stat, gathered from watcher change sets between packs. The engine trusts the hint (anything
// outside it is assumed unchanged), so whenever the record may be incomplete (a failed pack, a
// watcher error, events the watcher had to recover) the next pack gets no hint and walks.

/**
 * Hint paths from paths relative to the pack source (both sides of a rename, directories
 * included): '/'-separated, deduplicated, sorted, and without paths below another hinted path
 * (a hinted directory is re-read with its whole subtree; a removed one takes its subtree along).
 * The source root itself and paths outside it are dropped: they cannot be entries of the image.
 */
export function hintPaths(rels: Iterable<string>): string[] {
  const clean = new Set<string>();
  for (const r of rels) {
    const parts = r.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.length === 0 || parts.includes('..')) continue;
    clean.add(parts.join('/'));
  }
  // Sorted by segments, a path's ancestors come before it.
  const sorted = [...clean].sort(comparePaths);
  const out: string[] = [];
  const kept = new Set<string>();
  for (const p of sorted) {
    const segs = p.split('/');
    let covered = false;
    for (let i = 1; i < segs.length && !covered; i++) covered = kept.has(segs.slice(0, i).join('/'));
    if (covered) continue;
    kept.add(p);
    out.push(p);
  }
  return out;
}

/** Byte-wise by segment, so "a/b" sorts right after "a" (not after "a-b"). */
function comparePaths(a: string, b: string): number {
  const x = a.split('/');
  const y = b.split('/');
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
  }
  return x.length - y.length;
}

/** What the next pack gets: `changed` is undefined when it must walk the whole tree. */
export interface TakenHint {
  /** The paths changed since the previous pack (for display; also the hint when trusted). */
  paths: string[];
  changed?: string[];
  /** Why there is no hint. */
  unhinted?: string;
}

/** Paths changed since the last pack taken, and whether they can be trusted as the hint. */
export class PackHint {
  private paths = new Set<string>();
  /** Why the next pack must walk; the first pack of a process always does. */
  private distrust: string | null = 'first pack';
  private forced = false;

  /** True when a pack is due: paths changed, or a repack was requested. */
  get pending(): boolean {
    return this.paths.size > 0 || this.forced;
  }

  /** Number of distinct paths recorded since the last take(). */
  get size(): number {
    return this.paths.size;
  }

  add(rels: Iterable<string>): void {
    for (const r of rels) this.paths.add(r);
  }

  /**
   * Something may have changed that no recorded path names: the next pack walks. `repack` makes
   * a pack due now (after lost watcher events) instead of at the next change (after a failed pack,
   * which would only fail again until the source changes).
   */
  invalidate(reason: string, repack = false): void {
    this.distrust ??= reason;
    if (repack) this.forced = true;
  }

  take(): TakenHint {
    const paths = hintPaths(this.paths);
    const taken: TakenHint = this.distrust === null ? { paths, changed: paths } : { paths, unhinted: this.distrust };
    this.paths = new Set();
    this.distrust = null;
    this.forced = false;
    return taken;
  }
}
