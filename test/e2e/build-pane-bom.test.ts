// The Build pane's bom view through the real binary in a pseudo-terminal: the instance's settings
// name a bom; after a build, `v` shows what came from where (a files entry, a directory copy as
// one row with its counts), each program's libraries with the missing one, the copy's warning,
// and a hostile file name escaped, not interpreted; `v` again shows the output.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newInstance } from '../../src/core/instance/init.ts';
import { fixturePath, hasMuslGcc } from '../helpers/fixtures.ts';
import { startTui, type Tui } from '../helpers/tui.ts';

const running: Tui[] = [];
const ws = mkdtempSync(join(tmpdir(), 'build-pane-bom-'));
after(() => {
  running.forEach((t) => t.kill());
  rmSync(ws, { recursive: true, force: true });
});

test(
  'Build pane: v shows the bom plan (from where, libraries found and missing, warnings)',
  {
    skip: !hasMuslGcc() && 'needs musl-gcc',
  },
  async () => {
    const inst = join(ws, 'occlum_instance');
    newInstance(inst);
    const app = join(ws, 'app');
    mkdirSync(join(app, 'tools'), { recursive: true });
    copyFileSync(fixturePath('hello'), join(app, 'hello'));
    // A program in the copied dir that needs a library the loader cannot find: a warning.
    const lib = join(ws, 'lib');
    mkdirSync(lib);
    writeFileSync(join(lib, 'gone.c'), 'int gone(void) { return 1; }\n');
    writeFileSync(join(lib, 'main.c'), 'int gone(void);\nint main(void) { return gone(); }\n');
    execFileSync('musl-gcc', ['-shared', '-fPIC', '-o', join(lib, 'libgone.so'), join(lib, 'gone.c')]);
    execFileSync('musl-gcc', [
      '-fPIE',
      '-pie',
      '-o',
      join(app, 'tools', 'needsgone'),
      join(lib, 'main.c'),
      `-L${lib}`,
      '-lgone',
    ]);
    writeFileSync(join(app, 'evil\x1b[2Jname'), 'data\n');
    writeFileSync(
      join(ws, 'app.yaml'),
      'targets:\n  - target: /bin\n    copy:\n      - files: [../app/hello, "../app/evil\\e[2Jname"]\n' +
        '  - target: /opt\n    copy:\n      - dirs: [../app/tools]\n',
    );
    writeFileSync(join(inst, '.occlum-studio.json'), JSON.stringify({ bom: ['../app.yaml'] }));

    const tui = startTui([inst], { cwd: inst, cols: 150, rows: 40 });
    running.push(tui);
    await tui.waitFor(/occlum_instance/);
    tui.type('2');
    await tui.waitFor('not built yet: press b to build');
    tui.type('b');
    await tui.waitFor(/> #1\s+ok/, 60_000);
    await tui.waitFor('v bom plan');
    tui.type('v');
    await tui.waitFor('bom plan of #1');
    const screen = tui.screen();
    assert.match(screen, /bom \.\.\/app\.yaml: \d+ created, \d+ updated/);
    assert.match(screen, /files\s+\/bin\/hello\s+<- .*\/app\/hello \(written\)\s+.*app\.yaml:4:\d+/);
    assert.match(screen, /dirs\s+\/opt\/tools\s+<- .*\/app\/tools \(1 file, 1 dir; 2 written\)/);
    assert.match(screen, /libraries:/);
    assert.match(screen, /\/app\/hello \(loader \/lib\/ld-musl-x86_64\.so\.1\)/);
    assert.match(screen, /found\s+\/lib\/ld-musl-x86_64\.so\.1/);
    assert.match(screen, /needsgone \(loader \/lib\/ld-musl-x86_64\.so\.1\)/);
    assert.match(screen, /MISSING libgone\.so/);
    assert.match(screen, /1 warning:/);
    assert.match(screen, /libgone\.so is needed by .*needsgone/);
    // The escape in the file name is shown, not run (it would have cleared the screen).
    assert.doesNotMatch(tui.raw(), /evil\x1b\[2J/);
    tui.type('v');
    await tui.waitFor('output of #1');
    tui.type('q');
    assert.equal(await tui.exited, 0);
  },
);
