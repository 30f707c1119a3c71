// Stand-in for Intel's `sgx_sign sign -key <pem> -enclave <so> -out <signed.so> -config <xml>` and
// `sgx_sign dump -enclave <signed.so> -dumpfile <file>`. There is no enclave to measure: `sign`
// says so, checks the key and Enclave.xml as sgx_sign does (RSA-3072 with exponent 3, page
// alignment, ranges), and writes the enclave with a stand-in SIGSTRUCT appended (MRENCLAVE = a
// SHA-256 of the enclave file and its configuration, MRSIGNER = SHA-256 of the key's modulus,
// as SGX defines it); `dump` writes the lines `occlum print mrenclave|mrsigner` reads.
import { createHash, createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mrsignerFromPem } from '../../src/core/securefs/index.ts';
import { fail, NO_ENCLAVE } from './cli.ts';

export const SIGSTRUCT_MARK = '\nOCCLUM-STANDIN-SIGSTRUCT ';

export interface StandinSigstruct {
  mrenclave: string;
  mrsigner: string;
  prodId: number;
  isvSvn: number;
  debuggable: boolean;
}

const USAGE =
  'Usage: sgx_sign <command> <parameters>\n' +
  '  sign   -key <pem> -enclave <so> -out <signed so> -config <xml>\n' +
  '  dump   -enclave <signed so> -dumpfile <file>\n' +
  '(occlum stand-in: gendata and catsig need a real SGX SDK)';

function error(msg: string): never {
  fail(`${msg}\nError happened while signing the enclave.`, 255);
}

/** Reads the stand-in SIGSTRUCT of a signed enclave, or null. */
export function readSigstruct(file: string): StandinSigstruct | null {
  const b = readFileSync(file);
  const at = b.lastIndexOf(SIGSTRUCT_MARK);
  if (at < 0) return null;
  try {
    return JSON.parse(b.subarray(at + SIGSTRUCT_MARK.length).toString('utf8')) as StandinSigstruct;
  } catch {
    return null;
  }
}

function options(argv: string[], allowed: string[]): Record<string, string> {
  const o: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i]!;
    if (!allowed.includes(k) || argv[i + 1] === undefined)
      fail(`Command line is not correct: unexpected ${JSON.stringify(k)}\n${USAGE}`, 255);
    o[k] = argv[i + 1]!;
  }
  return o;
}

/** Enclave.xml values as sgx_sign checks them (manage_metadata.cpp); the message of the first problem. */
function checkConfig(xml: string): { values: Record<string, bigint>; problem?: string } {
  const m = xml.match(/^\s*<EnclaveConfiguration>([\s\S]*)<\/EnclaveConfiguration>\s*$/);
  if (!m) return { values: {}, problem: 'Configuration file format is not correct.' };
  const values: Record<string, bigint> = {};
  for (const t of m[1]!.matchAll(/<(\w+)>\s*([^<]*?)\s*<\/\1>/g)) {
    try {
      values[t[1]!] = BigInt(t[2]!);
    } catch {
      return { values, problem: `The value of "${t[1]}" is not correct.` };
    }
  }
  const v = (k: string, d = 0n) => values[k] ?? d;
  const page = (k: string) => v(k) % 4096n === 0n;
  if (v('ProdID') > 0xffffn) return { values, problem: 'The value of "ProdID" is out of range.' };
  if (v('ISVSVN') > 0xffffn) return { values, problem: 'The value of "ISVSVN" is out of range.' };
  if (v('TCSNum', 1n) < 1n) return { values, problem: 'The value of "TCSNum" is out of range.' };
  if (v('TCSMaxNum', v('TCSNum', 1n)) < v('TCSNum', 1n))
    return { values, problem: 'Maximum number of TCS is not correct.' };
  if (v('PKRU') > 2n || v('AMX') > 2n)
    return { values, problem: `The value of "${v('PKRU') > 2n ? 'PKRU' : 'AMX'}" is out of range.` };
  if (!page('StackMaxSize') || !page('StackMinSize') || v('StackMaxSize', 8192n) < 8192n)
    return { values, problem: 'Stack size setting is not correct.' };
  if (!page('HeapMaxSize') || !page('HeapMinSize') || !page('HeapInitSize'))
    return { values, problem: 'Heap size setting is not correct: size is not page aligned.' };
  if (!page('ReservedMemMaxSize') || !page('ReservedMemMinSize') || !page('ReservedMemInitSize')) {
    return { values, problem: 'Reserved memory size setting is not correct: size is not page aligned.' };
  }
  if (!page('UserRegionSize'))
    return { values, problem: 'User region size setting is not correct: size is not page aligned.' };
  return { values };
}

function sign(argv: string[]): void {
  const o = options(argv, ['-key', '-enclave', '-out', '-config', '-ignore-init-sec-error', '-resign']);
  for (const k of ['-key', '-enclave', '-out', '-config'])
    if (!o[k]) fail(`Command line is not correct: ${k} is missing\n${USAGE}`, 255);
  if (!existsSync(o['-enclave']!)) error(`The enclave file "${o['-enclave']}" cannot be opened.`);
  let pem: string;
  try {
    pem = readFileSync(o['-key']!, 'utf8');
  } catch {
    return error(`The key file "${o['-key']}" cannot be opened.`);
  }
  let jwk: { n?: string; e?: string };
  try {
    jwk = createPrivateKey(pem).export({ format: 'jwk' }) as { n?: string; e?: string };
  } catch {
    return error('The key file is not a valid RSA private key in PEM format.');
  }
  if (!jwk.n || Buffer.from(jwk.n, 'base64url').length * 8 !== 3072) error('The required key size must be 3072 bits.');
  if (Buffer.from(jwk.e ?? '', 'base64url').toString('hex') !== '03')
    error("The exponent of the input key is invalid. Only '3' is accepted as the exponent.");
  let xml: string;
  try {
    xml = readFileSync(o['-config']!, 'utf8');
  } catch {
    return error(`The configuration file "${o['-config']}" cannot be opened.`);
  }
  const { values, problem } = checkConfig(xml);
  if (problem) error(problem);
  console.log(xml.replace(/></g, '>\n<'));
  const tcs = values.TCSNum ?? 1n;
  console.log(`tcs_num ${tcs}, tcs_max_num ${values.TCSMaxNum ?? tcs}, tcs_min_pool ${values.TCSMinPool ?? 1n}`);
  // An estimate of the enclave's size (there is no enclave layout here): heap, TCS stacks, reserved memory.
  const mem =
    (values.HeapMaxSize ?? 0n) + (values.ReservedMemMaxSize ?? 0n) + tcs * ((values.StackMaxSize ?? 0n) + 5n * 4096n);
  console.log(`The required memory is ${mem}B.`);
  console.log(`The required memory is 0x${mem.toString(16)}, ${mem / 1024n} KB.`);
  console.log(
    `${NO_ENCLAVE}: nothing was measured or signed; MRENCLAVE is a SHA-256 of the enclave file and Enclave.xml`,
  );
  const enclave = readFileSync(o['-enclave']!);
  const sig: StandinSigstruct = {
    mrenclave: createHash('sha256').update(enclave).update(xml).digest('hex'),
    mrsigner: Buffer.from(mrsignerFromPem(pem)).toString('hex'),
    prodId: Number(values.ProdID ?? 0n),
    isvSvn: Number(values.ISVSVN ?? 0n),
    debuggable: (values.DisableDebug ?? 0n) === 0n,
  };
  writeFileSync(o['-out']!, Buffer.concat([enclave, Buffer.from(SIGSTRUCT_MARK + JSON.stringify(sig) + '\n')]));
  console.log('Succeed.');
}

const hexLines = (hex: string) =>
  (hex.match(/.{32}/g) ?? []).map((l) => (l.match(/../g) ?? []).map((b) => `0x${b}`).join(' ')).join('\n');

function dump(argv: string[]): void {
  const o = options(argv, ['-enclave', '-dumpfile', '-cssfile']);
  if (!o['-enclave'] || !o['-dumpfile'])
    fail(`Command line is not correct: -enclave and -dumpfile are required\n${USAGE}`, 255);
  if (!existsSync(o['-enclave']!)) error(`The enclave file "${o['-enclave']}" cannot be opened.`);
  const sig = readSigstruct(o['-enclave']!);
  if (!sig) error(`${o['-enclave']} was not signed by the occlum stand-in's sgx_sign (no SIGSTRUCT found).`);
  const text = [
    `The metadata information (${NO_ENCLAVE}: stand-in SIGSTRUCT):`,
    '=========================',
    'metadata->enclave_css.body.enclave_hash.m:',
    hexLines(sig.mrenclave),
    `metadata->enclave_css.body.isv_prod_id: 0x${sig.prodId.toString(16)}`,
    `metadata->enclave_css.body.isv_svn: 0x${sig.isvSvn.toString(16)}`,
    'mrsigner->value:',
    hexLines(sig.mrsigner),
    '',
  ].join('\n');
  writeFileSync(o['-dumpfile']!, text);
  console.log('Succeed.');
}

export function sgxSign(argv: string[]): void {
  const [cmd, ...rest] = argv;
  if (cmd === 'sign') sign(rest);
  else if (cmd === 'dump') dump(rest);
  else fail(`Command line is not correct: unknown command ${JSON.stringify(cmd ?? '')}\n${USAGE}`, 255);
}
