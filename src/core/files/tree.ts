// The Files pane's tree model: an instance's secure file system as a lazy tree over one layer
// (a directory is listed only when it is expanded). Pure logic over FsView objects: no store, no
// Ink; the store slice (src/store/files-slice.ts) keeps one per studio and renders its rows.
//
// Layers: 'merged' is what the program sees (run layer over image layer, each entry tagged image,
// run or deleted); 'image' is the packed image alone; 'run' is the merged view restricted to what
// the run layer holds or deletes (an upper directory always exists for anything below it, so
// filtering each listing is exact and stays lazy).
import type { FsEntry, FsView, SkippedEntry } from '../securefs/types.ts';
import { inRunLayer, runOnlyView } from '../backend/host/fs-view.ts';

export type FilesLayer = 'merged' | 'image' | 'run';
export const FILES_LAYERS: FilesLayer[] = ['merged', 'image', 'run'];

export interface TreeRow {
  entry: FsEntry;
  depth: number;
  expanded: boolean;
  /** Set when listing this directory failed (shown under it). */
  error?: string;
  /** Entries of this directory the listing left out (illegal names, unreadable records). */
  skipped?: SkippedEntry[];
}

export function parentOf(path: string): string {
  if (path === '/') return '/';
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/** The row of `path` in `rows`, else of its nearest listed ancestor (-1 when there is none). */
export function rowNear(rows: TreeRow[], path: string): number {
  let cursor = rows.findIndex((r) => r.entry.path === path);
  let p = path;
  while (cursor < 0 && p !== '/') {
    p = parentOf(p);
    cursor = rows.findIndex((r) => r.entry.path === p);
  }
  return cursor;
}

export class FsTree {
  private views: Partial<Record<FilesLayer, FsView>> = {};
  /** Listed directories of the current layer (path → children), and the expanded ones. */
  private children = new Map<string, FsEntry[]>();
  private listErrors = new Map<string, string>();
  private listSkipped = new Map<string, SkippedEntry[]>();
  private expanded = new Set<string>(['/']);

  /** `layer` says which layer is shown (the caller keeps it). */
  constructor(private readonly layer: () => FilesLayer) {}

  /**
   * Shows the image and, when there is one, the merged view over a run layer; returns the layers
   * that can be shown. Listings are forgotten; expanded directories are kept.
   */
  setViews(image: FsView, merged: FsView | undefined): FilesLayer[] {
    this.views = merged ? { merged, image, run: runOnlyView(merged) } : { merged: image, image };
    this.forgetListings();
    return merged ? FILES_LAYERS : ['merged', 'image'];
  }

  /** Closes the views and forgets everything (another instance, or nothing to show). */
  clear(): void {
    this.views = {};
    this.forgetListings();
  }

  /** Also forgets which directories were expanded. */
  reset(): void {
    this.clear();
    this.expanded = new Set(['/']);
  }

  /** Listings are read again on demand (after a layer switch). */
  forgetListings(): void {
    this.children = new Map();
    this.listErrors = new Map();
    this.listSkipped = new Map();
  }

  /** The view of the shown layer. */
  view(): FsView | undefined {
    return this.views[this.layer()];
  }

  get image(): FsView | undefined {
    return this.views.image;
  }

  isExpanded(path: string): boolean {
    return this.expanded.has(path);
  }

  setExpanded(path: string, open: boolean): void {
    if (open) this.expanded.add(path);
    else this.expanded.delete(path);
  }

  /** Expands every directory above `path`. */
  expandAncestors(path: string): void {
    let cur = '';
    for (const part of path.split('/').filter(Boolean).slice(0, -1)) {
      cur = `${cur}/${part}`;
      this.expanded.add(cur);
    }
  }

  /** Entries of a listed directory (undefined until it is listed), and what its listing left out. */
  listed(path: string): number | undefined {
    return this.children.get(path)?.length;
  }
  skipped(path: string): SkippedEntry[] {
    return this.listSkipped.get(path) ?? [];
  }

  private listDir(path: string): void {
    const v = this.view();
    if (!v || this.children.has(path) || this.listErrors.has(path)) return;
    try {
      const layer = this.layer();
      const merged = this.views.merged;
      // Deletions are found against the unfiltered merged listing, then the run view filters.
      const l = layer === 'image' || !merged ? v.listing(path) : merged.listing(path);
      const listed = layer === 'image' || !merged ? l.entries : this.withDeleted(path, l.entries);
      this.children.set(path, layer === 'run' ? listed.filter(inRunLayer) : listed);
      if (l.skipped.length) this.listSkipped.set(path, l.skipped);
    } catch (err) {
      this.listErrors.set(path, (err as Error).message);
    }
  }

  /**
   * Adds what the run layer deleted: image entries of this directory that the merged view no
   * longer has. The SEFS union lists those itself (layer 'deleted'); a backend whose merged view
   * drops them (the host backend's overlayfs whiteouts) gets them back here, one extra listing of
   * the image directory per expanded directory.
   */
  private withDeleted(path: string, listed: FsEntry[]): FsEntry[] {
    const image = this.views.image;
    if (this.layer() === 'image' || !image || this.views.merged === image) return listed;
    let lower: FsEntry[];
    try {
      lower = image.list(path);
    } catch {
      return listed; // not a directory of the image (created at run time), or unreadable there
    }
    const names = new Set(listed.map((e) => e.name));
    const gone = lower.filter((e) => !names.has(e.name)).map((e): FsEntry => ({ ...e, layer: 'deleted' }));
    if (gone.length === 0) return listed;
    return [...listed, ...gone].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Flattens the expanded part of the tree into rows (only listed directories are visited). */
  rows(): TreeRow[] {
    const v = this.view();
    if (!v) return [];
    let root: FsEntry;
    try {
      root = v.stat('/');
    } catch (err) {
      return [
        {
          entry: { path: '/', name: '/', type: 'dir', mode: 0, size: 0, inode: 0, nlink: 0 },
          depth: 0,
          expanded: false,
          error: (err as Error).message,
        },
      ];
    }
    const rows: TreeRow[] = [];
    const visit = (e: FsEntry, depth: number) => {
      const isOpen = e.type === 'dir' && e.layer !== 'deleted' && this.expanded.has(e.path);
      if (isOpen) this.listDir(e.path);
      const skipped = isOpen ? this.listSkipped.get(e.path) : undefined;
      rows.push({
        entry: e,
        depth,
        expanded: isOpen,
        ...(isOpen && this.listErrors.has(e.path) ? { error: this.listErrors.get(e.path) } : {}),
        ...(skipped ? { skipped } : {}),
      });
      if (isOpen) for (const c of this.children.get(e.path) ?? []) visit(c, depth + 1);
    };
    visit(root, 0);
    return rows;
  }
}
