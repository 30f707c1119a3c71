// Stand-in for Occlum's `sefs-cli[_sim|_hyper] --enclave <lib> zip|unzip|mount …` (occlum/sefs
// sefs-cli/app/src/main.rs): `zip [--key K] <dir> <image> <mac>` packs a real SEFS image with
// occlum-studio's secure-FS engine (integrity-only, or encrypted with the image key) and writes
// the root MAC; `unzip` extracts an integrity-only or image-key image. `mount` needs FUSE and an
// enclave and is refused. Errors end like the Rust tool's `main` returning Err (exit 1).
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { extract, openImage, packImage, readImageKeyFile, type KeyMode } from '../../src/core/securefs/index.ts';
import { fail, NO_ENCLAVE } from './cli.ts';

const USAGE = 'USAGE:\n    sefs-cli --enclave <enclave> <SUBCOMMAND>\n\nFor more information try --help';

const osError = (code: number, kind: string, message: string) =>
  fail(`Error: Os { code: ${code}, kind: ${kind}, message: ${JSON.stringify(message)} }`, 1);

interface Parsed {
  enclave: string;
  cmd: string;
  positional: string[];
  key?: string;
  protectIntegrity: boolean;
}

function parse(argv: string[]): Parsed {
  let enclave: string | undefined;
  let cmd: string | undefined;
  let key: string | undefined;
  let protectIntegrity = false;
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined)
        fail(`error: The argument '${a} <value>' requires a value but none was supplied\n\n${USAGE}`, 1);
      return v;
    };
    if (a === '-e' || a === '--enclave') enclave = value();
    else if (cmd && (a === '-k' || a === '--key')) key = value();
    else if (cmd === 'unzip' && (a === '-p' || a === '--protect-integrity')) protectIntegrity = true;
    else if (a.startsWith('-'))
      fail(`error: Found argument '${a}' which wasn't expected, or isn't valid in this context\n\n${USAGE}`, 1);
    else if (!cmd) {
      if (!['zip', 'unzip', 'mount'].includes(a))
        fail(`error: Found argument '${a}' which wasn't expected, or isn't valid in this context\n\n${USAGE}`, 1);
      cmd = a;
    } else positional.push(a);
  }
  if (!enclave)
    fail(`error: The following required arguments were not provided:\n    --enclave <enclave>\n\n${USAGE}`, 1);
  if (!cmd) fail(`error: 'sefs-cli' requires a subcommand, but one was not provided\n\n${USAGE}`, 1);
  const want = {
    zip: ['<dir>', '<image>', '<mac>'],
    unzip: ['<image>', '<dir>'],
    mount: ['<image>', '<container>', '<dir>'],
  }[cmd]!;
  if (positional.length < want.length) {
    fail(
      `error: The following required arguments were not provided:\n${want
        .slice(positional.length)
        .map((w) => `    ${w}`)
        .join('\n')}\n\n${USAGE}`,
      1,
    );
  }
  if (positional.length > want.length)
    fail(
      `error: Found argument '${positional[want.length]}' which wasn't expected, or isn't valid in this context\n\n${USAGE}`,
      1,
    );
  return { enclave, cmd, positional, key, protectIntegrity };
}

function keyOf(file: string | undefined): KeyMode {
  if (!file) return { kind: 'integrity-only' };
  if (!existsSync(file)) osError(2, 'NotFound', 'No such file or directory');
  try {
    return readImageKeyFile(file);
  } catch (e) {
    return fail(`Error: ${JSON.stringify((e as Error).message)}`, 1);
  }
}

export async function sefsCli(argv: string[]): Promise<void> {
  const o = parse(argv);
  console.log(`[+] Home dir is ${homedir()}`);
  if (!existsSync(o.enclave)) {
    console.log('[-] Init Enclave Failed!');
    fail('Error: Custom { kind: Other, error: "SGX_ERROR_ENCLAVE_FILE_ACCESS" }', 1);
  }
  console.log(`[+] ${NO_ENCLAVE}: the secure-FS work is done by occlum-studio's engine`);
  if (o.cmd === 'mount') {
    fail(
      'occlum stand-in: sefs-cli mount needs FUSE and an SGX enclave; read the image with `occlum-studio fs` instead',
      1,
    );
  }
  if (o.cmd === 'zip') {
    const [dir, image, mac] = o.positional as [string, string, string];
    const key = keyOf(o.key);
    if (existsSync(image)) osError(17, 'AlreadyExists', 'File exists');
    if (!existsSync(dirname(image))) osError(2, 'NotFound', 'No such file or directory');
    if (!existsSync(dir)) osError(2, 'NotFound', 'No such file or directory');
    try {
      await packImage({ src: dir, outRoot: image, macFile: mac, key });
      // sefs-cli leaves inode files and `metadata` only: drop the engine's incremental-pack state.
      rmSync(join(image, '.occlum-studio-pack'), { force: true });
      rmSync(`${image}.lock`, { force: true });
    } catch (e) {
      rmSync(image, { recursive: true, force: true });
      fail(`Error: ${JSON.stringify((e as Error).message)}`, 1);
    }
    console.log('Generate the SEFS image successfully');
    return;
  }
  const [image, dir] = o.positional as [string, string];
  if (!o.key && !o.protectIntegrity) {
    fail(
      'occlum stand-in: an image sealed with the SGX auto key needs an enclave; unzip takes --protect-integrity or --key here',
      1,
    );
  }
  const key = keyOf(o.key);
  if (existsSync(dir)) osError(17, 'AlreadyExists', 'File exists');
  try {
    const view = openImage(image, key, '');
    mkdirSync(dir);
    await extract(view, '/', dir);
  } catch (e) {
    fail(`Error: ${JSON.stringify((e as Error).message)}`, 1);
  }
  console.log('Decrypt the SEFS image successfully');
}
