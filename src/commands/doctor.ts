// `occlum-studio doctor [--json]`: what this machine offers each backend, with the fix for every
// missing piece. Exit 0 when at least one backend can build and run here, 1 otherwise.
import { UsageError, printJson, type Command, say } from './command.ts';
import { parseCommandArgs } from './args.ts';

const OPTIONS = { json: { type: 'boolean', default: false } } as const;
import { probeMachine, type MachineReport } from '../core/detect/machine.ts';

function formatReport(r: MachineReport): string {
  const lines: string[] = [`occlum-studio doctor (kernel ${r.kernel})`, ''];
  const width = Math.max(...r.probes.map((p) => p.label.length));
  for (const p of r.probes) {
    lines.push(`  ${p.ok ? 'ok ' : 'no '} ${p.label.padEnd(width)}  ${p.detail}`);
    if (!p.ok && p.fix) lines.push(`      ${''.padEnd(width)}  fix: ${p.fix}`);
  }
  lines.push('', 'backends:');
  for (const b of r.backends) {
    lines.push(`  ${b.backend.padEnd(7)} ${b.summary}`);
    if (b.backend === 'occlum' && r.occlum) {
      for (const m of b.modes)
        lines.push(`          ${m.name}: ${m.ready ? 'ready' : `not ready (${m.missing.join('; ')})`}`);
    }
  }
  const ready = r.backends.filter((b) => b.ready).map((b) => b.backend);
  lines.push(
    '',
    ready.length ? `usable here: ${ready.join(', ')}` : 'no backend can run here: fix the items marked "no" above',
  );
  return lines.join('\n');
}

export const command: Command = {
  name: 'doctor',
  summary:
    'Check what this machine offers (Occlum, SGX, aesmd, FSGSBASE, bubblewrap, node-pty, the native addon) and which backends can run.',
  usage: 'occlum-studio doctor [--json]',
  options: OPTIONS,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, OPTIONS);
    if (positionals.length > 0) throw new UsageError(`doctor takes no arguments, got "${positionals[0]}"`);
    const report = probeMachine();
    if (values.json) printJson(report);
    else say(...formatReport(report).split('\n'));
    return report.ok ? 0 : 1;
  },
};
