// occlum_elf_loader.config: one line per loader, "LOADER LIBRARY_PATH", read as copy_bom reads
// /opt/occlum/etc/template/occlum_elf_loader.config. A program whose .interp has the same file
// name as LOADER is analysed with LOADER, libraries from LIBRARY_PATH's dirs land in LOADER's dir
// in the image. The studio's own config for the host adds a third field, the image dir for those
// libraries, so the host's glibc can stand in for Occlum's at Occlum's place (/opt/occlum/glibc/lib).
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, posix } from 'node:path';
import { findOcclum } from '../detect/occlum-install.ts';
import { projectRoot } from '../detect/project-root.ts';

export interface LoaderEntry {
  /** The loader run on the host to list a program's libraries (also copied into the image). */
  loader: string;
  /** LD_LIBRARY_PATH for that run. */
  libraryPath: string;
  /** Libraries found in one of these dirs are copied to `libDir` in the image. */
  searchDirs: string[];
  libDir: string;
}

export interface LoaderConfig {
  /** The file it was read from. */
  source: string;
  /** By the loader's file name, e.g. "ld-musl-x86_64.so.1". */
  byName: Map<string, LoaderEntry>;
}

export function parseLoaderConfig(text: string, source: string): LoaderConfig {
  const byName = new Map<string, LoaderEntry>();
  for (const line of text.split('\n')) {
    const fields = line.trim().split(' ').filter(Boolean);
    if (fields.length === 0 || fields[0]!.startsWith('#')) continue;
    const [loader, libraryPath = '', libDir] = fields as [string, string?, string?];
    byName.set(basename(loader), {
      loader,
      libraryPath,
      searchDirs: libraryPath.split(':').filter(Boolean),
      libDir: libDir ?? posix.dirname(loader),
    });
  }
  return { source, byName };
}

/** The studio's template dir (base.yaml and the host loader config). */
export function studioTemplateDir(): string | null {
  const root = projectRoot();
  return root ? join(root, 'fixtures', 'bom-templates') : null;
}

/** Occlum's etc/template when Occlum is installed. */
export function occlumTemplateDir(env: NodeJS.ProcessEnv = process.env): string | null {
  const install = findOcclum(env).install;
  return install ? join(install.root, 'etc', 'template') : null;
}

/** Occlum's loader config when Occlum is installed, else the studio's own for this host. */
export function defaultLoaderConfig(env: NodeJS.ProcessEnv = process.env): LoaderConfig | null {
  for (const dir of [occlumTemplateDir(env), studioTemplateDir()]) {
    if (!dir) continue;
    const file = join(dir, 'occlum_elf_loader.config');
    if (existsSync(file)) return parseLoaderConfig(readFileSync(file, 'utf8'), file);
  }
  return null;
}
