// `occlum-studio doctor` through the built CLI, on this machine (no SGX, no Occlum), and with a
// fake Occlum install tree as the install root.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { fakeOcclumTree } from '../helpers/occlum.ts';
import type { MachineReport } from '../../src/core/detect/machine.ts';

// This machine as it is: no override root.
const plainEnv = { OCCLUM_STUDIO_OCCLUM_ROOT: '', PATH: process.env.PATH ?? '' };
const FAKE_ROOT = mkdtempSync(join(tmpdir(), 'doctor-occlum-'));
fakeOcclumTree(FAKE_ROOT);
after(() => rmSync(FAKE_ROOT, { recursive: true, force: true }));

function doctorJson(env: NodeJS.ProcessEnv): { status: number; report: MachineReport } {
  const r = runCli(['doctor', '--json'], { env });
  assert.equal(r.stderr, '');
  return { status: r.status, report: JSON.parse(r.stdout) as MachineReport };
}

test('doctor --json on this machine: Occlum absent with reasons, host backend ready', () => {
  const { status, report } = doctorJson(plainEnv);
  const probe = (id: string) => report.probes.find((p) => p.id === id)!;
  assert.equal(probe('occlum').ok, false);
  assert.match(probe('occlum').detail, /not installed: no `occlum` on PATH; no \/opt\/occlum\/build\/bin\/occlum/);
  assert.match(probe('occlum').fix!, /apt-get install occlum/);
  const occlum = report.backends.find((b) => b.backend === 'occlum')!;
  assert.equal(occlum.ready, false);
  assert.match(occlum.summary, /absent/);
  assert.ok(
    occlum.modes.find((m) => m.name === 'HW')!.missing.some((m) => /SGX device/.test(m)),
    'HW lists the missing SGX device',
  );

  // What this machine has (checked by actually trying): bubblewrap with user namespaces, node-pty.
  for (const id of ['bwrap', 'userns', 'node-pty']) assert.ok(probe(id).ok, `${id}: ${probe(id).detail}`);
  assert.equal(probe('sgx-device').ok, false);
  assert.match(probe('sgx-device').fix!, /BIOS/);
  const host = report.backends.find((b) => b.backend === 'host')!;
  // The host backend runs with bubblewrap; node-pty and the engine only add features.
  assert.equal(host.ready, true, host.summary);
  assert.equal(status, 0);
  assert.match(host.summary, /^ready/);
  assert.deepEqual(host.limits, probe('native-addon').ok ? [] : [host.limits[0]]);
});

test('doctor text output names each missing piece with its fix', () => {
  const r = runCli(['doctor'], { env: plainEnv });
  assert.match(r.stdout, /no {2}Occlum +not installed/);
  assert.match(r.stdout, /fix: add the Occlum apt repository/);
  assert.match(r.stdout, /ok {2}user namespaces/);
  assert.match(r.stdout, /backends:\n {2}host/);
  assert.match(r.stdout, /occlum {2}absent: Occlum is not installed/);
});

test('doctor with an Occlum tree: found with its version, SIM ready, HW not', () => {
  const { status, report } = doctorJson({ ...plainEnv, OCCLUM_STUDIO_OCCLUM_ROOT: FAKE_ROOT });
  assert.equal(report.occlum?.version, '0.31.0');
  const occlum = report.backends.find((b) => b.backend === 'occlum')!;
  assert.equal(occlum.modes.find((m) => m.name === 'SIM')!.ready, true);
  assert.equal(occlum.modes.find((m) => m.name === 'HW')!.ready, false);
  assert.match(occlum.summary, /ready for SIM mode only; HW mode lacks: SGX device/);
  assert.equal(status, 0);
});

test('doctor with Occlum but without the tools its script calls: SIM not ready, apt packages named', () => {
  const empty = mkdtempSync(join(tmpdir(), 'doctor-path-'));
  try {
    const { status, report } = doctorJson({ ...plainEnv, PATH: empty, OCCLUM_STUDIO_OCCLUM_ROOT: FAKE_ROOT });
    const tools = report.probes.find((p) => p.id === 'occlum-tools')!;
    assert.equal(tools.ok, false);
    assert.match(tools.detail, /jq, make, pgrep, pkill, lscpu, objcopy, tar/);
    assert.equal(tools.fix, 'apt-get install jq make procps util-linux binutils tar');
    const sim = report.backends.find((b) => b.backend === 'occlum')!.modes.find((m) => m.name === 'SIM')!;
    assert.equal(sim.ready, false);
    assert.ok(sim.missing.some((m) => /host tools/.test(m)));
    assert.equal(status, report.ok ? 0 : 1);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test('doctor takes no arguments', () => {
  const r = runCli(['doctor', 'extra']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /doctor takes no arguments/);
});
