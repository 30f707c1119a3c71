// A fresh instance with compiled fixtures in image/bin, for host-backend tests.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newInstance } from '../../src/core/instance/init.ts';
import { installFixtures, type FixtureName } from './fixtures.ts';

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
