// What the `occlum` script's output means (spec 1.2, 1.5, 2.6): its state checks (printed on
// stdout, exit 1), its option errors (`Error: …` on stderr, exit 1) and the real cause of a
// failed build, which is often printed long before make's final `Error N`. Pure functions.
import { STATUS_FILE } from '../../instance/layout.ts';

export type StateErrorKind =
  | 'not-initialized'
  | 'already-initialized'
  | 'not-built'
  | 'run-busy'
  | 'server-started'
  | 'server-not-started'
  | 'aesm-missing'
  | 'exists'
  | 'usage';

export interface StateError {
  kind: StateErrorKind;
  /** Occlum's line, verbatim. */
  occlumLine: string;
  /** What it means for the user and what to do. */
  message: string;
}

const STATE: [RegExp, StateErrorKind, (m: RegExpMatchArray) => string][] = [
  [
    /^Error: the current working directory is not initialized as an Occlum instance\..*$/m,
    'not-initialized',
    () => `this directory is not an Occlum instance (no ${STATUS_FILE}): initialise it first (occlum init)`,
  ],
  [
    /^Error: the current working directory has been initialized as an Occlum instance$/m,
    'already-initialized',
    () =>
      `this directory is already an Occlum instance (${STATUS_FILE} exists): use it as is, or start over in an empty directory`,
  ],
  [
    /^Error: the Occlum image and enclave are not built yet\..*$/m,
    'not-built',
    () => 'the instance is not built (run/mount/__ROOT is missing; a failed build also removes it): build it first',
  ],
  [
    /^Error: the process of current Occlum instance is running\..*$/m,
    'run-busy',
    () => 'an `occlum run` of this instance is still running: wait for it to end or stop it first',
  ],
  [
    /^Error: the server of current Occlum instance has been started\.$/m,
    'server-started',
    () => 'the exec server of this instance is already running: use exec, or stop it first',
  ],
  [
    /^Error: the server of current Occlum instance has not been started\.$/m,
    'server-not-started',
    () => 'the exec server of this instance is not running: start it first',
  ],
  [
    /^Error: AESM service is not started yet\..*$/m,
    'aesm-missing',
    () =>
      'HW mode needs the AESM service and /var/run/aesmd/aesm.socket is missing: install sgx-aesm-service and start aesmd (see `occlum-studio doctor`), or build with --sgx-mode SIM',
  ],
  [
    /^Error: destination "(.*)" already exists$/m,
    'exists',
    (m) => `"${m[1]}" already exists: choose a new path for the instance`,
  ],
  [
    /^Error: (target directory is not set|target file is not set|print info name not provided|no sub-command is given|unknown sub-command .*)$/m,
    'usage',
    (m) => m[1]!,
  ],
];

/** Recognises one of the script's own refusals in its output, or null. */
export function stateError(output: string): StateError | null {
  for (const [re, kind, explain] of STATE) {
    const m = output.match(re);
    if (m) return { kind, occlumLine: m[0], message: explain(m) };
  }
  return null;
}

/** `Error: <msg>` lines of exit_error (stderr): bad options and paths. */
export function optionError(stderr: string): string | null {
  const m = stderr.match(
    /^Error: (Unknown option: .*|empty .*|invalid .*|Empty .*|No .* existed|No valid info name provided|Ext2 enabled .*)$/m,
  );
  return m ? m[1]! : null;
}

/** Build-time messages that name the real cause (spec 2.6), most specific first. */
const BUILD_CAUSES: [RegExp, (m: RegExpMatchArray) => string][] = [
  [
    /thread 'main' panicked at 'It is not a valid Occlum configuration file\.: Error\("((?:[^"\\]|\\.)*)", line: (\d+), column: (\d+)\)'/,
    (m) => `Occlum.json is not valid for this Occlum: ${m[1]!.replace(/\\"/g, '"')} (line ${m[2]}, column ${m[3]})`,
  ],
  [/^(.*, wrong configuration)$/m, (m) => `Occlum.json: ${m[1]}`],
  [/^(The \w+ ".*" is not correct\.)$/m, (m) => `Occlum.json: ${m[1]}`],
  [/^(Mount configuration invalid: .*)$/m, (m) => `Occlum.json: ${m[1]}`],
  [/^(Invalid cache_size .*)$/m, (m) => `Occlum.json: ${m[1]}`],
  [/^(The disk_size .*)$/m, (m) => `Occlum.json: ${m[1]}`],
  [
    /^(The required key size must be 3072 bits\.|The exponent of the input key is invalid\..*)$/m,
    (m) => `signing key rejected by sgx_sign: ${m[1]} (Occlum needs an RSA-3072 key with exponent 3)`,
  ],
  [
    /^((?:Stack|Heap|Reserved memory|User region) size setting is not correct.*)$/m,
    (m) => `sgx_sign: ${m[1]} (sizes in Occlum.json must be multiples of 4 KB)`,
  ],
  [/^(The value of "\w+" is out of range\.|Maximum number of TCS is not correct\.)$/m, (m) => `sgx_sign: ${m[1]}`],
  [
    /^make: \*\*\* \[.*?([^/\s]+)\] Error 137$/m,
    (m) => `the build was killed (out of memory?) while making ${m[1]}: the image may be too large for this machine`,
  ],
  [/^make: \*\*\* \[.*?([^/\s\]]+)\] Error (\d+)$/m, (m) => `the build step producing ${m[1]} failed (exit ${m[2]})`],
];

/** The lines that explain a failed build, cause first; empty when nothing is recognised. */
export function buildFailureCauses(output: string): string[] {
  const found: string[] = [];
  for (const [re, explain] of BUILD_CAUSES) {
    const m = output.match(re);
    if (m) found.push(explain(m));
  }
  return found;
}

/** Phase of a build output line, for progress events. */
export function buildLinePhase(line: string): 'validate' | 'pack' | 'config' | 'commit' | null {
  if (/^(Enclave sign-tool|Enclave sign-key|Image encryption key|SGX mode):/.test(line)) return 'validate';
  if (/^(Building the initfs|Building new image|Generate the SEFS image)/.test(line)) return 'pack';
  if (/^Build on platform/.test(line)) return 'config';
  if (/^(Building libOS|Signing the enclave|Succeed\.|Built the Occlum image)/.test(line)) return 'commit';
  return null;
}
