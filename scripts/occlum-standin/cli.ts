// What every stand-in tool shares: failing loudly, the way the real tools do (message on stderr,
// their exit status), and where the stand-in install lives.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export function fail(message: string, status: number): never {
  process.stderr.write(message.endsWith('\n') ? message : `${message}\n`);
  process.exit(status);
}

/** The install root: the bundle lives in <root>/build/lib/standin/. */
export function installRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

/** Printed by every tool that would need SGX, so nobody mistakes the stand-in for Occlum. */
export const NO_ENCLAVE = 'occlum stand-in: no SGX enclave here';
