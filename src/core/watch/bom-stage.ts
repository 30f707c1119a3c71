// The dev loop's bom stage: after the prebuild, each bom of the settings is copied into image/
// (as `occlum-studio bom copy -f BOM --root image` run in the instance dir), so a program rebuilt
// outside the instance reaches the next run. The build record gets the plan: what was copied from
// where, each program's libraries (found and missing), the warnings and the files no bom produces.
import { formatIssue, runBomCopy, summarizeBomRun, type BomRun, type BomSummary } from '../bom/index.ts';
import { join } from 'node:path';
import { sanitizeForTerminal } from '../text/sanitize.ts';
import type { StudioSettings } from './settings.ts';
import type { ChangeEntry, FailureCause } from './types.ts';

/** At most this many changed paths are listed per bom (the count says the rest). */
const LISTED = 40;

export function describeBomRun(bom: string, r: BomRun): string[] {
  const lines: string[] = [];
  for (const i of [...r.plan.issues, ...(r.copy?.issues ?? [])]) lines.push(formatIssue(i));
  if (r.copy) {
    const changed = r.copy.actions.filter((a) => a.action !== 'same' && a.kind !== 'dir');
    for (const a of changed.slice(0, LISTED)) {
      lines.push(`  ${a.action} ${a.inner}${a.src ? ` <- ${a.src}` : a.target ? ` -> ${a.target}` : ''} (${a.why})`);
    }
    if (changed.length > LISTED) lines.push(`  … and ${changed.length - LISTED} more`);
    for (const lib of r.plan.libraries) {
      if (lib.from === 'dirs' && lib.missing.length === 0) continue;
      const found = lib.libs.map((l) => l.inner).join(', ') || 'none';
      lines.push(
        `  libraries of ${lib.file}: ${found}${lib.missing.length ? `; MISSING ${lib.missing.join(', ')}` : ''}`,
      );
    }
    if (r.copy.strays.length) {
      lines.push(
        `  in image/ but in no bom entry: ${r.copy.strays.slice(0, 10).join(', ')}` +
          `${r.copy.strays.length > 10 ? ` and ${r.copy.strays.length - 10} more` : ''}`,
      );
    }
    const c = r.copy.counts;
    lines.push(
      `bom ${bom}: ${c.create} created, ${c.update} updated, ${c.attrs} attributes, ${c.same} unchanged ` +
        `(${(r.copy.bytes / 1e6).toFixed(1)} MB)`,
    );
  }
  return lines.map((l) => sanitizeForTerminal(l));
}

/**
 * Copies every bom; returns a cause for the first that fails (later ones are not copied).
 * `changes`: what made this build. When they are only content changes of files (no settings, no
 * added or removed paths), each copy gets them as a hint and re-copies just those files.
 * `report` gets each copy's summary (the Build pane's structured view).
 */
export async function runBomStage(
  settings: StudioSettings,
  instanceDir: string,
  out: (line: string) => void,
  changes: ChangeEntry[] | null,
  report: (summary: BomSummary) => void = () => {},
  /** The paths each copy changed in image/ (absolute), or undefined when it cannot tell. */
  wrote: (paths: string[] | undefined) => void = () => {},
): Promise<FailureCause | null> {
  const hintable =
    changes !== null &&
    changes.every((c) => c.area !== 'settings' && (c.area !== 'source' || (c.kind === 'changed' && !c.isDir)));
  const changed = hintable ? changes.filter((c) => c.area === 'source').map((c) => c.path) : undefined;
  for (const bom of settings.bom) {
    out(
      sanitizeForTerminal(
        `$ occlum-studio bom copy -f ${bom} --root image${settings.bomIncludeDirs.map((d) => ` -i ${d}`).join('')}`,
      ),
    );
    let r: BomRun;
    try {
      r = await runBomCopy({
        file: bom,
        root: 'image',
        includeDirs: settings.bomIncludeDirs,
        cwd: instanceDir,
        changed,
      });
    } catch (err) {
      const message = `bom copy of ${bom} failed: ${(err as Error).message}`;
      out(sanitizeForTerminal(message));
      return { stage: 'bom', message: sanitizeForTerminal(message) };
    }
    for (const l of describeBomRun(bom, r)) out(l);
    report(summarizeBomRun(bom, r));
    wrote(r.copy?.actions.filter((a) => a.action !== 'same').map((a) => join(instanceDir, 'image', a.inner)));
    if (!r.ok) {
      const first = [...r.plan.issues, ...(r.copy?.issues ?? [])].find((i) => i.severity === 'error');
      return {
        stage: 'bom',
        message: sanitizeForTerminal(first ? formatIssue(first) : `bom copy of ${bom} failed`),
        hint: r.copy
          ? 'fix the entry; files copied before the error stay in image/'
          : 'fix the bom entry; nothing was copied, the image was not rebuilt',
      };
    }
  }
  return null;
}
