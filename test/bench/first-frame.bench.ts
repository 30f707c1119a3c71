// Time from launch to the first full frame of the TUI in a real pty, against `node -e 0`
// launched the same way (goal: under 4x).
import pty from 'node-pty';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../helpers/paths.ts';
import { ensureBuilt } from '../helpers/cli.ts';
import { median, report } from './helpers.ts';

const RUNS = 15;
ensureBuilt();
const dir = mkdtempSync(join(tmpdir(), 'bench-ff-'));
writeFileSync(join(dir, 'Occlum.json'), '{}\n');
const env = { ...process.env, CI: 'false', CONTINUOUS_INTEGRATION: 'false', TERM: 'xterm-256color' } as Record<
  string,
  string
>;

function time(args: string[], until: (out: string) => boolean): Promise<number> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const p = pty.spawn(process.execPath, args, { cols: 120, rows: 36, cwd: dir, env });
    let out = '';
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      resolve(performance.now() - t0);
      try {
        p.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    };
    p.onData((d) => {
      out += d;
      if (until(out)) finish();
    });
    p.onExit(finish);
  });
}

const base: number[] = [];
const studio: number[] = [];
for (let i = 0; i < RUNS; i++) {
  base.push(await time(['-e', '0'], () => false));
  // The status bar is the last line Ink draws: its hint text marks a complete first frame.
  studio.push(await time([CLI, dir], (o) => o.includes('q quit')));
}
report('time to first frame (median)', median(studio), 'ms', { name: 'node -e 0', value: median(base) }, 'under 4x');
rmSync(dir, { recursive: true, force: true });
