// Integrity-only SGX protected files as Occlum writes them (`occlum-protect-integrity protect`
// for .Occlum_sys.json.protected; securefs-format.md 3.1–3.5): plaintext nodes, each tagged
// with AES-128-GCM under the all-zero key and IV over the node as AAD (i.e. GMAC), tags kept in
// the parent MHT node, the root MHT's tag in the metadata node, whose own tag is the file's MAC.
// With zero keys the encoding is deterministic, so a reader can check a file by decoding it and
// re-encoding the plaintext byte for byte. Kept in TypeScript rather than the native engine on
// purpose: every build and run needs this config, while the packed secure image is optional (a
// build without the addon warns and pins runs by the manifest only).
import { createCipheriv } from 'node:crypto';
import { macString } from './pin.ts';

const NODE = 4096;
const MD_DATA = 3072;
const PLAIN_PART = 95;
const ENC_PART = 3392;
const DATA_PER_MHT = 96;
const MHT_PER_MHT = 32;
const ZERO_KEY = Buffer.alloc(16);
const ZERO_IV = Buffer.alloc(12);
const FILE_ID = 0x5347585f46494c45n; // "SGX_FILE"

function gmac(aad: Buffer): Buffer {
  const c = createCipheriv('aes-128-gcm', ZERO_KEY, ZERO_IV);
  c.setAAD(aad);
  c.final();
  return c.getAuthTag();
}

const dataPhys = (d: number) => d + 2 + Math.floor(d / DATA_PER_MHT);
const mhtPhys = (m: number) => 1 + 97 * m;

/** Encodes `data` as an integrity-only PF whose host file name is `name`. Returns the bytes and MAC. */
export function encodeIntegrityOnly(data: Buffer, name: string): { bytes: Buffer; mac: string } {
  const nameBytes = Buffer.from(name, 'utf8');
  if (nameBytes.length >= 260) throw new Error(`protected file name too long: ${name}`);
  const D = data.length > MD_DATA ? Math.ceil((data.length - MD_DATA) / NODE) : 0;
  const M = D > 0 ? Math.ceil(D / DATA_PER_MHT) : 0;
  const nodes = D > 0 ? dataPhys(D - 1) + 1 : 1;
  const out = Buffer.alloc(nodes * NODE);
  const mht: Buffer[] = [];
  for (let m = 0; m < M; m++) mht.push(out.subarray(mhtPhys(m) * NODE, (mhtPhys(m) + 1) * NODE));
  // Data nodes: plaintext, tag into the parent MHT's slot (keys stay zero).
  for (let d = 0; d < D; d++) {
    const node = out.subarray(dataPhys(d) * NODE, (dataPhys(d) + 1) * NODE);
    data.copy(node, 0, MD_DATA + d * NODE, Math.min(data.length, MD_DATA + (d + 1) * NODE));
    gmac(node).copy(mht[Math.floor(d / DATA_PER_MHT)], (d % DATA_PER_MHT) * 32 + 16);
  }
  // MHT nodes, children (higher numbers) before parents.
  for (let m = M - 1; m >= 1; m--) {
    const parent = Math.floor((m - 1) / MHT_PER_MHT);
    gmac(mht[m]).copy(mht[parent], 3072 + ((m - 1) % MHT_PER_MHT) * 32 + 16);
  }
  const enc = Buffer.alloc(ENC_PART);
  nameBytes.copy(enc, 0);
  enc.writeBigInt64LE(BigInt(data.length), 260);
  if (M > 0) gmac(mht[0]).copy(enc, 304); // mht_key stays zero
  data.copy(enc, 320, 0, Math.min(data.length, MD_DATA));
  const tag = gmac(enc);
  const md = out.subarray(0, NODE);
  md.writeBigUInt64LE(FILE_ID, 0);
  md[8] = 1; // major
  md[9] = 0; // minor
  md[60] = 1; // use_user_kdk_key (integrity-only uses the zero user key)
  tag.copy(md, 77);
  md[93] = 0; // update_flag
  md[94] = 1; // integrity_only (Occlum's field)
  enc.copy(md, PLAIN_PART);
  return { bytes: out, mac: macString(tag) };
}

export class ProtectedFileError extends Error {}

/**
 * Reads an integrity-only PF: returns its plaintext and MAC after checking that re-encoding the
 * plaintext reproduces the file exactly (every tag, every node, no trailing garbage).
 */
export function decodeIntegrityOnly(bytes: Buffer, name: string): { data: Buffer; mac: string } {
  if (bytes.length === 0 || bytes.length % NODE !== 0)
    throw new ProtectedFileError('not an SGX protected file (size is not a multiple of 4096)');
  if (bytes.readBigUInt64LE(0) !== FILE_ID || bytes[8] !== 1)
    throw new ProtectedFileError('not an SGX protected file (bad magic or version)');
  if (bytes[94] !== 1) throw new ProtectedFileError('not an integrity-only protected file');
  if (bytes[93] !== 0) throw new ProtectedFileError('the protected file needs recovery (update flag set)');
  const size = Number(bytes.readBigInt64LE(PLAIN_PART + 260));
  if (!Number.isSafeInteger(size) || size < 0 || size > bytes.length)
    throw new ProtectedFileError('corrupt size field');
  const data = Buffer.alloc(size);
  bytes.copy(data, 0, PLAIN_PART + 320, PLAIN_PART + 320 + Math.min(size, MD_DATA));
  for (let d = 0; MD_DATA + d * NODE < size; d++) {
    const at = dataPhys(d) * NODE;
    if (at + NODE > bytes.length) throw new ProtectedFileError('truncated protected file');
    bytes.copy(data, MD_DATA + d * NODE, at, at + Math.min(NODE, size - MD_DATA - d * NODE));
  }
  const again = encodeIntegrityOnly(data, name);
  if (!again.bytes.equals(bytes))
    throw new ProtectedFileError('its tags do not match its content (modified after it was written)');
  return { data, mac: again.mac };
}
