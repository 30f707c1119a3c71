// Contract of the secure-FS facade (src/core/securefs/index.ts implements it over native/).
// Other modules (host backend, fs commands, Files pane) code against these types only.

/** How the protected files of an image are keyed (spec securefs-format.md 3.5, 4). */
export type KeyMode =
  | { kind: 'integrity-only' }
  /** 16-byte key, e.g. read from an `occlum gen-image-key` file. */
  | { kind: 'image-key'; key: Uint8Array }
  /** SGX-simulation auto key, derived from the signer identity. */
  | { kind: 'sgx-sim'; mrsigner: Uint8Array; productId: number; isvSvn: number; debuggable: boolean };

export type EntryType = 'file' | 'dir' | 'symlink' | 'socket' | 'other';
export type Layer = 'image' | 'run' | 'deleted';

export interface FsEntry {
  /** Absolute path inside the image, e.g. "/bin/hello". */
  path: string;
  name: string;
  type: EntryType;
  mode: number;
  size: number;
  inode: number;
  nlink: number;
  /** For symlinks. */
  target?: string;
  /** Hex MAC of the inode's protected file, "xx-xx-…" like .ROOT_MAC. */
  mac?: string;
  /** Host file name under __ROOT (32 hex chars). */
  hostFile?: string;
  /** Only in a merged (union) view. */
  layer?: Layer;
}

/**
 * An entry a listing or walk left out: an illegal stored name ('..', '.', empty, with '/' or NUL,
 * over-long, not UTF-8), an inode record that cannot be read, a directory that cannot be listed.
 * `name` is the stored name as far as it decodes: sanitise it (and `reason`) before printing.
 */
export interface SkippedEntry {
  /** The directory that holds it. */
  path: string;
  name?: string;
  reason: string;
}

/** A directory's (or the whole tree's) entries and what was left out of them. */
export interface Listing {
  entries: FsEntry[];
  skipped: SkippedEntry[];
}

export interface Progress {
  done: number;
  total: number;
  /** Bytes processed so far, when known. */
  bytes?: number;
  current?: string;
}

export interface VerifyProblem {
  path: string;
  /** Host file of the node/inode that broke the chain, when known. */
  hostFile?: string;
  node?: number;
  kind: 'mac-mismatch' | 'missing' | 'corrupt' | 'wrong-key' | 'format';
  message: string;
}

export interface VerifyReport {
  ok: boolean;
  rootMac: string;
  expectedRootMac?: string;
  files: number;
  bytes: number;
  problems: VerifyProblem[];
  /** Set for integrity-only images: the chain proves consistency, not tamper evidence. */
  note?: string;
}

export interface PackOptions {
  /** Source directory (e.g. instance/image). */
  src: string;
  /** Output __ROOT directory (e.g. instance/build/mount/__ROOT). */
  outRoot: string;
  /** Where to write the root MAC text (e.g. instance/build/mount/.ROOT_MAC). */
  macFile: string;
  key: KeyMode;
  /** Reuse inode files of unchanged content from an existing image at outRoot. */
  incremental?: boolean;
  /**
   * Change-set hint for an incremental pack: paths relative to `src` that may have been modified,
   * added or removed since the previous pack into `outRoot` by this process. The caller promises
   * nothing else changed; then only these paths (and the directories up to the root) are stat'ed
   * instead of walking the whole tree. A directory path re-reads its whole subtree. Ignored (full
   * walk) for the first pack into `outRoot` in this process or when the image changed meanwhile.
   * A wrong hint misses changes until the next unhinted pack but never makes an inconsistent image.
   */
  changed?: string[];
  /**
   * With `changed`: the caller watched `outRoot` (inotify, the host backend's guard) and vouches
   * that no file of it changed since the previous pack by this process, so the warm path skips
   * its stat of every inode file (it still checks `metadata`). Without it, a file written since
   * (tampered with, damaged) makes the warm path decline and the regular pack rewrite it.
   */
  imageUnchanged?: boolean;
  /**
   * A previous image (`__ROOT`) whose files are hard-linked into a fresh `outRoot` first, in the
   * engine's worker (off the main thread), so an incremental pack reuses its inode files. It stays
   * intact: no linked file is written in place.
   */
  seedFrom?: string;
  onProgress?: (p: Progress) => void;
}

export interface PackResult {
  rootMac: string;
  filesPacked: number;
  filesReused: number;
  bytes: number;
  ms: number;
  /** A warm pack's inode files written and removed in outRoot (its own metadata files aside). */
  hostFiles?: { written: string[]; removed: string[] };
}

/** A read-only view of an image (one SEFS layer) or of the merged run-over-image union. */
export interface FsView {
  readonly kind: 'image' | 'union';
  /** Root MAC of the (image) layer, "xx-xx-…". */
  readonly rootMac: string;
  /** Children of a directory, in directory order (union: sorted by name, with `layer`). */
  list(path: string): FsEntry[];
  /** `list` and the entries it left out (see SkippedEntry): what listings show users. */
  listing(path: string): Listing;
  stat(path: string): FsEntry;
  readFile(path: string): Buffer;
  /** Same as readFile, off the main thread (large files). */
  readFileAsync(path: string): Promise<Buffer>;
  /**
   * Bytes [offset, offset + length) of a file, cut at its size (empty past the end), off the main
   * thread. Reads and authenticates only what holds them (node 0, the MHT chain, those data
   * nodes): its cost does not grow with the file. Errors as for readFile.
   */
  readRange(path: string, offset: number, length: number): Promise<Buffer>;
  readlink(path: string): string;
  /** The whole tree, pre-order, "/" first. */
  walk(): FsEntry[];
  /** Same as walk, off the main thread (big trees: extract, diff). */
  walkAsync(): Promise<FsEntry[]>;
  /** walkAsync and every entry it left out (tree, extract). */
  walkListing(): Promise<Listing>;
  verify(opts?: { onProgress?: (p: Progress) => void }): Promise<VerifyReport>;
}

/** Progress of extract and diff: entries done of the total, bytes copied or compared. */
export interface TreeProgress {
  done: number;
  total: number;
  bytes: number;
  /** The entry being worked on. */
  current?: string;
}

/** What `extract` wrote. */
export interface ExtractResult {
  files: number;
  dirs: number;
  symlinks: number;
  bytes: number;
  /** Entries not written (e.g. sockets), with the reason. */
  skipped: { path: string; reason: string }[];
  /** Stopped by its abort signal: what was written so far is complete, the rest is missing. */
  cancelled?: boolean;
}
