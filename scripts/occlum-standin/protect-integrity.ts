// Stand-in for Occlum's `occlum-protect-integrity protect <file>` (writes <file>.protected, an
// integrity-only SGX protected file) and `show <pf> [out]` / `show-mac <pf> [out]`
// (tools/protect-integrity): occlum-studio's encoder writes the file byte for byte as Occlum's
// does. Failures print what the real tool prints and return -1 (exit 255).
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { decodeIntegrityOnly, encodeIntegrityOnly } from '../../src/core/backend/host/protected-file.ts';
import { fail } from './cli.ts';

const HELP =
  'Error: invalid arguments\n\nUsage:\n\tprotect-integrity protect <ordinary_file>\n\tprotect-integrity show <protected_file> [<output_file>]\n' +
  '\tprotect-integrity show-mac <protected_file> [<output_file>]\n';

function open(pf: string): { data: Buffer; mac: string } {
  try {
    return decodeIntegrityOnly(readFileSync(pf), basename(pf));
  } catch {
    return fail(`Error: failed to open the given protected file ${pf}`, 255);
  }
}

export function protectIntegrity(argv: string[]): void {
  const [cmd, file, out] = argv;
  if (
    argv.length < 2 ||
    argv.length > 3 ||
    !file ||
    !['protect', 'show', 'show-mac'].includes(cmd!) ||
    (cmd === 'protect' && argv.length !== 2)
  ) {
    fail(HELP, 255);
  }
  if (cmd === 'protect') {
    let data: Buffer;
    try {
      data = readFileSync(file);
    } catch {
      return fail(`Error: cannot open the input file at ${file}`, 255);
    }
    const target = `${file}.protected`;
    try {
      writeFileSync(target, encodeIntegrityOnly(data, basename(target)).bytes);
    } catch {
      fail(`Error: cannot create the output file ${target}`, 255);
    }
    return;
  }
  const pf = open(file);
  const text = cmd === 'show' ? pf.data : Buffer.from(`${pf.mac}\n`);
  if (!out) {
    process.stdout.write(text);
    return;
  }
  try {
    writeFileSync(out, text);
  } catch {
    fail(`Error: failed to open ${out} for output `, 255);
  }
}
