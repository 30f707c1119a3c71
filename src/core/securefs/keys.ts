// Key material for Occlum images: image key files (`occlum gen-image-key`), SGX-simulation
// identities (MRSIGNER from a sign key or given as hex), MAC strings, and the compact key spec
// string the native engine takes.
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readTextSafe, UnsafeFileError } from '../instance/safe-read.ts';
import type { KeyMode } from './types.ts';

/** MRSIGNER of Occlum's public default sign key (etc/template/Enclave.pem), spec 4.3. */
export const DEFAULT_MRSIGNER_HEX = '83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e';

const DASHED16 = /^[0-9a-fA-F]{1,2}(-[0-9a-fA-F]{1,2}){15}$/;

/** Parses Occlum's "xx-xx-…-xx" (16 bytes) format of .ROOT_MAC and image key files. */
export function parseDashed16(text: string): Uint8Array | undefined {
  const t = text.trim();
  if (!DASHED16.test(t)) return undefined;
  return Uint8Array.from(t.split('-').map((h) => parseInt(h, 16)));
}

export function macString(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('-');
}

/** Pointer files a checkout leaves in place of content it did not fetch (see native checkout.rs). */
const LFS_POINTER = /^version https:\/\/(git-lfs|hawser)\.github\.com\/spec\//;
const ANNEX_POINTER = /^\/annex\/objects\/\S+\s*$/;

export function parseMac(text: string, where: string): string {
  const b = parseDashed16(text);
  if (!b && LFS_POINTER.test(text))
    throw new Error(
      `${where}: a Git LFS pointer, not the MAC: the checkout lacks its LFS content; run \`git lfs pull\` in the repository, or copy the instance from the machine that built it`,
    );
  if (!b && ANNEX_POINTER.test(text))
    throw new Error(
      `${where}: a git-annex pointer, not the MAC: run \`git annex get\` in the repository, or copy the instance from the machine that built it`,
    );
  if (!b)
    throw new Error(
      `${where}: not a MAC: expected 16 hex bytes joined by '-' (like .ROOT_MAC), got ${JSON.stringify(text.trim().slice(0, 60))}`,
    );
  return macString(b);
}

/** Reads an `occlum gen-image-key` file. */
export function readImageKeyFile(path: string): KeyMode {
  let text: string;
  try {
    text = readTextSafe(path, { what: 'the image key file', maxBytes: 4096, followLinks: true });
  } catch (err) {
    if (err instanceof UnsafeFileError) throw err;
    throw new Error(
      `image key file ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : (err as Error).message}`,
      { cause: err },
    );
  }
  const key = parseDashed16(text);
  if (!key) {
    throw new Error(
      `image key file ${path}: expected 16 hex bytes joined by '-' as written by \`occlum gen-image-key\` (e.g. 00-11-…-ff), found ${text.trim().length} characters`,
    );
  }
  return { kind: 'image-key', key };
}

function hexBytes(hex: string, len: number, what: string): Uint8Array {
  const h = hex.trim().replace(/^0x/i, '');
  if (!new RegExp(`^[0-9a-fA-F]{${len * 2}}$`).test(h))
    throw new Error(`${what}: expected ${len * 2} hex digits, got ${JSON.stringify(hex.slice(0, 80))}`);
  return Uint8Array.from(Buffer.from(h, 'hex'));
}

/** MRSIGNER = SHA-256 of the signing key's RSA modulus, little-endian (384 bytes for RSA-3072). */
export function mrsignerFromPem(pem: string, where = 'sign key'): Uint8Array {
  let jwk: { n?: string };
  try {
    const pub = pem.includes('PRIVATE KEY') ? createPublicKey(createPrivateKey(pem)) : createPublicKey(pem);
    jwk = pub.export({ format: 'jwk' }) as { n?: string };
  } catch (err) {
    throw new Error(`${where}: not a PEM RSA key (${(err as Error).message})`, { cause: err });
  }
  if (!jwk.n) throw new Error(`${where}: not an RSA key (SGX signing keys are RSA-3072)`);
  const be = Buffer.from(jwk.n, 'base64url');
  const size = Math.max(384, be.length);
  const le = Buffer.alloc(size);
  for (let i = 0; i < be.length; i++) le[i] = be[be.length - 1 - i]!;
  return Uint8Array.from(createHash('sha256').update(le).digest());
}

export interface SimIdentityOptions {
  signKeyPem?: string;
  signKeyPath?: string;
  mrsignerHex?: string;
  productId?: number;
  isvSvn?: number;
  /** Occlum.json metadata.debuggable; default true (Occlum's default). */
  debuggable?: boolean;
}

export function sgxSimKey(o: SimIdentityOptions = {}): KeyMode {
  let mrsigner: Uint8Array;
  if (o.mrsignerHex) mrsigner = hexBytes(o.mrsignerHex, 32, '--mrsigner');
  else if (o.signKeyPem) mrsigner = mrsignerFromPem(o.signKeyPem);
  else if (o.signKeyPath) mrsigner = mrsignerFromPem(readFileSync(o.signKeyPath, 'utf8'), o.signKeyPath);
  else mrsigner = hexBytes(DEFAULT_MRSIGNER_HEX, 32, 'default MRSIGNER');
  const u16 = (v: number | undefined, what: string) => {
    const n = v ?? 0;
    if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new Error(`${what}: expected an integer 0..65535, got ${v}`);
    return n;
  };
  return {
    kind: 'sgx-sim',
    mrsigner,
    productId: u16(o.productId, 'product id'),
    isvSvn: u16(o.isvSvn, 'ISV SVN'),
    debuggable: o.debuggable ?? true,
  };
}

/** The native engine's compact key spec. */
export function keySpec(k: KeyMode): string {
  switch (k.kind) {
    case 'integrity-only':
      return 'io';
    case 'image-key':
      if (k.key.length !== 16) throw new Error('image key must be 16 bytes');
      return `uk:${Buffer.from(k.key).toString('hex')}`;
    case 'sgx-sim':
      if (k.mrsigner.length !== 32) throw new Error('MRSIGNER must be 32 bytes');
      return `sim:${Buffer.from(k.mrsigner).toString('hex')}:${k.productId}:${k.isvSvn}:${k.debuggable ? 1 : 0}`;
  }
}
