// A fresh instance with compiled fixtures in image/bin, for host-backend tests.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newInstance } from '../../src/core/instance/init.ts';
import { RunCgroup, runCgroupName } from '../../src/core/sandbox/cgroup.ts';
import { hasMuslGcc, installFixtures, type FixtureName } from './fixtures.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a test edits the parsed config freely
export function makeInstance(names: FixtureName[], edit?: (cfg: Record<string, any>) => void): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'occlum-host-')), 'inst');
  newInstance(dir);
  installFixtures(dir, names);
  if (edit) {
    const cfg = JSON.parse(readFileSync(join(dir, 'Occlum.json'), 'utf8'));
    edit(cfg);
    writeFileSync(join(dir, 'Occlum.json'), JSON.stringify(cfg, null, 4) + '\n');
  }
  return dir;
}

/** Why the host backend's thread cap cannot be tested here (no musl-gcc or pids cgroup), or false. */
export function treeLimitsSkip(): string | false {
  if (!hasMuslGcc()) return 'musl-gcc is not installed';
  const probe = RunCgroup.create(runCgroupName(), ['pids']);
  const ok = probe.has('pids');
  probe.remove();
  return ok ? false : 'no writable cgroup pids controller here';
}
