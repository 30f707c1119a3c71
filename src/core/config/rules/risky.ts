// Legal settings that are risky in a product: debug enclaves, logging in release enclaves.
// (hostfs of host system dirs and integrity-only images are reported by the mount rules.)
import { basename } from 'node:path';
import type { RuleContext } from '../context.ts';
import { atLeast } from '../versions.ts';

export function checkRisky(ctx: RuleContext): void {
  const debuggable = ctx.get(['metadata', 'debuggable']);
  if (debuggable?.type !== 'boolean') return;
  const releaseName = ctx.options.fileName ? /release|prod/i.test(basename(ctx.options.fileName)) : false;
  if (debuggable.value === true && (ctx.options.release || releaseName)) {
    ctx.report(
      'warning',
      'risky-debuggable',
      debuggable,
      ['metadata', 'debuggable'],
      "debuggable is true in a release/product config: a debug enclave's memory can be read and changed by the host, so it protects nothing; set it to false for release builds",
      ctx.replace('Set debuggable to false', debuggable, false),
    );
  }
  const disableLog = ctx.get(['metadata', 'disable_log']);
  if (debuggable.value === false && disableLog?.value === false && atLeast(ctx.version, '0.30.1')) {
    ctx.report(
      'warning',
      'risky-log',
      disableLog,
      ['metadata', 'disable_log'],
      'disable_log is false in a release enclave (debuggable false): LibOS log lines (paths, syscalls, errors) reach the untrusted host; remove it (release enclaves default to logging off) or set true',
      ctx.replace('Set disable_log to true', disableLog, true),
    );
  }
}
