// Instances committed to a repository come back from a clone incomplete: Git LFS pointers or
// git-annex pointers and links where big files were, or files a mirror left out. Every `fs`
// command must say which file is which of these and what to run, not "not a protected file" or
// "build it first" (a rebuild on another machine would not give back the committed image).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, symlinkSync, unlinkSync, cpSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { newInstance } from '../../src/core/instance/init.ts';

const LFS =
  'version https://git-lfs.github.com/spec/v1\n' +
  'oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 200000\n';

/** A packed instance with /bin/tool; returns the instance dir and tool's host file. */
function packed(d: string, name: string): { inst: string; root: string; toolHost: string } {
  const inst = join(d, name);
  newInstance(inst);
  writeFileSync(join(inst, 'image/bin/tool'), Buffer.alloc(200_000, 7));
  const p = runCli(['fs', 'pack', '-C', inst, '--full']);
  assert.equal(p.status, 0, p.stderr);
  const stat = JSON.parse(runCli(['fs', 'stat', '-C', inst, '/bin/tool', '--json']).stdout) as { hostFile: string };
  return { inst, root: join(inst, 'build/mount/__ROOT'), toolHost: stat.hostFile };
}

test('Git LFS and git-annex pointers in place of inode files, metadata and .ROOT_MAC are named with the fix', () => {
  const d = mkdtempSync(join(tmpdir(), 'checkout-gaps-'));
  try {
    const { inst, root, toolHost } = packed(d, 'lfs');
    writeFileSync(join(root, toolHost), LFS);
    const cat = runCli(['fs', 'cat', '-C', inst, '/bin/tool']);
    assert.equal(cat.status, 2);
    assert.match(cat.stderr, /a Git LFS pointer \(object sha256:4d7a2146\w+, 200000 bytes\), not the file itself/);
    assert.match(cat.stderr, /git lfs pull/);
    const v = runCli(['fs', 'verify', '-C', inst, '--json']);
    assert.equal(v.status, 1);
    const problems = JSON.parse(v.stdout).problems as { path: string; kind: string; message: string }[];
    assert.deepEqual(
      problems.map((p) => [p.path, p.kind]),
      [['/bin/tool', 'missing']],
    );
    assert.match(problems[0]!.message, /Git LFS pointer/);
    assert.match(
      runCli(['fs', 'verify', '-C', inst]).stdout,
      /^1 of the image's files is absent \(or only a placeholder\): the copy is incomplete/m,
    );
    assert.match(runCli(['fs', 'pf', 'info', join(root, toolHost)]).stderr, /Git LFS pointer/);

    // git-annex: an unlocked pointer file, and a locked file's dangling link.
    writeFileSync(join(root, toolHost), '/annex/objects/SHA256E-s200000--4d7a2146\n');
    assert.match(runCli(['fs', 'cat', '-C', inst, '/bin/tool']).stderr, /git-annex pointer file.*git annex get/);
    unlinkSync(join(root, toolHost));
    symlinkSync('../../../.git/annex/objects/Xx/Yy/SHA256E-s200000--4d7a/SHA256E-s200000--4d7a', join(root, toolHost));
    const link = runCli(['fs', 'cat', '-C', inst, '/bin/tool']);
    assert.equal(link.status, 2);
    assert.match(link.stderr, /git-annex link whose content is not in the checkout: run `git annex get`/);
    const lv = JSON.parse(runCli(['fs', 'verify', '-C', inst, '--json']).stdout);
    assert.match(lv.problems[0].message, /git-annex link/);

    // The metadata and the MAC file as pointers.
    const m = packed(d, 'meta');
    writeFileSync(join(m.root, 'metadata'), LFS);
    const ls = runCli(['fs', 'ls', '-C', m.inst]);
    assert.equal(ls.status, 2);
    assert.match(ls.stderr, /__ROOT\/metadata: a Git LFS pointer/);
    const mac = packed(d, 'mac');
    writeFileSync(join(mac.inst, 'build/mount/.ROOT_MAC'), LFS);
    const mv = runCli(['fs', 'verify', '-C', mac.inst]);
    assert.match(mv.stderr, /\.ROOT_MAC: a Git LFS pointer, not the MAC/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('an __ROOT with inode files but no metadata is an incomplete image, not an unbuilt one', () => {
  const d = mkdtempSync(join(tmpdir(), 'checkout-gaps-'));
  try {
    const { inst, root } = packed(d, 'inst');
    const files = readdirSync(root).filter((n) => /^[0-9a-f]{32}$/.test(n)).length;
    unlinkSync(join(root, 'metadata'));
    for (const args of [
      ['fs', 'ls', '-C', inst],
      ['fs', 'verify', '-C', inst],
      ['fs', 'ls', '-C', root],
    ]) {
      const r = runCli(args);
      assert.equal(r.status, 2, args.join(' '));
      assert.match(r.stderr, new RegExp(`holds ${files} inode files but no \`metadata\`: the image is incomplete`));
      assert.doesNotMatch(r.stderr, /build it first/);
    }
    // The run layer: a rebuild would discard it, so the fix is the copy alone.
    const { inst: ran, root: imageRoot } = packed(d, 'ran');
    const runRoot = join(ran, 'run/mount/__ROOT');
    mkdirSync(join(ran, 'run/mount'), { recursive: true });
    cpSync(imageRoot, runRoot, { recursive: true });
    unlinkSync(join(runRoot, 'metadata'));
    const r = runCli(['fs', 'ls', '-C', ran, '--layer', 'merged']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /run layer: .*run\/mount\/__ROOT holds \d+ inode files but no `metadata`/);
    assert.match(r.stderr, /machine that ran the instance/);
    // A fresh instance is still just not built.
    const fresh = join(d, 'fresh');
    newInstance(fresh);
    assert.match(runCli(['fs', 'ls', '-C', fresh]).stderr, /no secure image yet/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
