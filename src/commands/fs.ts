// `occlum-studio fs …`: look inside, verify, extract, diff and pack Occlum secure-FS images
// offline (no SGX, no FUSE, no `occlum mount`), and inspect single protected files.
import { once } from 'node:events';
import { existsSync, lstatSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import {
  type Command,
  InputError,
  UsageError,
  UserError,
  exitWhenStdoutCloses,
  printJson,
  say,
  sayErr,
} from './command.ts';
import { INSTANCE_OPTION, instanceDir, parseCommandArgs } from './args.ts';
import { MAX_SMALL_FILE_BYTES, readGeneratedText, readTextIfPresent } from '../core/instance/safe-read.ts';
import { packWatch } from './fs-pack-watch.ts';
import { hostImageKeyFile, hostRunLayer, openHostFs, runOnlyView } from '../core/backend/host/fs-view.ts';
import {
  diffWithSource,
  extract,
  imageInfo,
  openImage,
  openUnion,
  packImage,
  parseMac,
  ROOT_MAC_FILE,
  pfHeader,
  pfRead,
  pfReadSync,
  pfVerify,
  readImageKeyFile,
  sgxSimKey,
  type FsEntry,
  type FsView,
  type KeyMode,
  type Progress,
  type SkippedEntry,
  type VerifyReport,
} from '../core/securefs/index.ts';
import { instancePaths } from '../core/instance/layout.ts';
import { imageAbsence, incompleteImageMessage } from '../core/securefs/absence.ts';
import { BUILTIN_KEY_PATH, builtinImageKey, encryptedByHeader } from '../core/securefs/builtin-key.ts';
import { readInstanceMetadata } from '../core/config/metadata.ts';

const USAGE = `occlum-studio fs <ls|tree|stat|cat|verify|extract|diff|pack> [-C DIR] [args] [options]
       occlum-studio fs pf <info|cat|verify> FILE [key options] [--json]

  fs ls [PATH]              list a directory of the image (default /)
  fs tree [PATH]            the tree below PATH
  fs stat PATH              type, mode, size, inode, MAC and host file of one entry
  fs cat PATH               file content to stdout
  fs verify                 check the MAC chain from the root MAC down to every node
  fs extract PATH DEST      copy PATH out of the image into DEST (never writes outside DEST)
  fs diff [SRC]             compare the image with its source tree (default: <instance>/image)
  fs pack [SRC]             pack SRC (default <instance>/image) into build/mount/__ROOT + .ROOT_MAC
    --watch                 …then repack on every change, one line per pack (NDJSON with --json),
                            passing the changed paths so an edit costs ~1 ms; Ctrl-C stops

options:
  -C DIR, --instance DIR    an Occlum instance, or an __ROOT directory (default: .)
  --layer image|run|merged|initfs
                            which layer of an instance (default image); run: what programs wrote
                            (Occlum's run/mount/__ROOT, or the host backend's run/host/upper);
                            initfs: Occlum's init stage image (build/initfs/__ROOT)
  --image-key FILE          image key file (occlum gen-image-key format)
  --sgx-sim                 run layer / PF sealed with the SGX-simulation auto key
    --release               …of a release (non-debuggable) enclave
    --sign-key PEM          …signed with this key (default: Occlum's public default key)
    --mrsigner HEX          …or give MRSIGNER directly
    --product-id N, --isv-svn N
  --mac MAC                 expected root MAC for verify (default: .ROOT_MAC, then the generated config)
  --out DIR, --mac-file F   pack destination (default: <instance>/build/mount/__ROOT, …/.ROOT_MAC)
  --full                    pack everything (default: reuse unchanged inode files)
  --json                    machine-readable output`;

const OPTIONS = {
  ...INSTANCE_OPTION,
  layer: { type: 'string' },
  'image-key': { type: 'string' },
  'sgx-sim': { type: 'boolean' },
  release: { type: 'boolean' },
  'sign-key': { type: 'string' },
  mrsigner: { type: 'string' },
  'product-id': { type: 'string' },
  'isv-svn': { type: 'string' },
  mac: { type: 'string' },
  out: { type: 'string' },
  'mac-file': { type: 'string' },
  full: { type: 'boolean' },
  watch: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

type Values = {
  instance?: string;
  layer?: string;
  'image-key'?: string;
  'sgx-sim'?: boolean;
  release?: boolean;
  'sign-key'?: string;
  mrsigner?: string;
  'product-id'?: string;
  'isv-svn'?: string;
  mac?: string;
  out?: string;
  'mac-file'?: string;
  full?: boolean;
  watch?: boolean;
  json?: boolean;
};

/** Where things are: an instance dir, or a bare __ROOT. */
interface Target {
  instance?: string;
  imageRoot: string;
  runRoot?: string;
  /** build/initfs/__ROOT: Occlum's init stage, always integrity-only (occlum_build.mk zips it without a key). */
  initfs?: boolean;
}

function locate(dirArg: string | undefined, layer?: string): Target {
  const dir = instanceDir(dirArg, undefined);
  if (layer === 'initfs') return locateInitfs(dir);
  const bare = imageAbsence(dir);
  if (bare.kind === 'present') return { imageRoot: dir };
  if (bare.kind === 'incomplete') throw new InputError(incompleteImageMessage(dir, bare.hostFiles));
  const p = instancePaths(dir);
  const absence = imageAbsence(p.buildRoot);
  if (absence.kind === 'present') return { instance: dir, imageRoot: p.buildRoot, runRoot: p.runRoot };
  if (absence.kind === 'incomplete') throw new InputError(incompleteImageMessage(p.buildRoot, absence.hostFiles));
  if (existsSync(p.status) || existsSync(p.config)) {
    throw new InputError(
      `${dir}: the instance has no secure image yet (build/mount/__ROOT/metadata is missing); build it first`,
    );
  }
  throw new InputError(
    `${dir}: neither an Occlum instance (build/mount/__ROOT) nor an SEFS __ROOT directory (metadata)`,
  );
}

function locateInitfs(dir: string): Target {
  const p = instancePaths(dir);
  if (!existsSync(p.status) && !existsSync(p.config))
    throw new UsageError(`--layer initfs needs an instance directory, and ${dir} is not one`);
  const absence = imageAbsence(p.buildInitfsRoot);
  if (absence.kind === 'incomplete') throw new InputError(incompleteImageMessage(p.buildInitfsRoot, absence.hostFiles));
  if (absence.kind === 'not-built')
    throw new InputError(
      `${dir}: no initfs image (build/initfs/__ROOT/metadata is missing): Occlum's build makes one; the host backend has no init stage`,
    );
  return { instance: dir, imageRoot: p.buildInitfsRoot, initfs: true };
}

function intOpt(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) > 0xffff) throw new UsageError(`${what}: expected an integer 0..65535, got "${v}"`);
  return Number(v);
}

/** Occlum.json metadata (product_id, version_number, debuggable) for SIM identity defaults. */
function occlumMetadata(instance: string | undefined): { productId?: number; isvSvn?: number; debuggable?: boolean } {
  return instance ? readInstanceMetadata(instance, { generatedFirst: true }) : {};
}

function simKey(v: Values, instance: string | undefined): KeyMode {
  const meta = occlumMetadata(instance);
  try {
    return sgxSimKey({
      mrsignerHex: v.mrsigner,
      signKeyPath: v['sign-key'],
      productId: intOpt(v['product-id'], '--product-id') ?? meta.productId,
      isvSvn: intOpt(v['isv-svn'], '--isv-svn') ?? meta.isvSvn,
      debuggable: v.release ? false : (meta.debuggable ?? true),
    });
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new InputError((err as Error).message);
  }
}

function imageKeyOf(v: Values, t: Target): KeyMode {
  if (t.initfs) return { kind: 'integrity-only' };
  // The host backend keeps the key it built with; Occlum's builds keep none.
  const keyFile = v['image-key'] ?? (t.instance ? hostImageKeyFile(t.instance) : null);
  if (keyFile) {
    try {
      return readImageKeyFile(keyFile);
    } catch (err) {
      throw new InputError((err as Error).message);
    }
  }
  if (t.instance) {
    let says: string | undefined;
    const header = encryptedByHeader(t.imageRoot);
    if (header) says = "its metadata's header";
    else if (header === undefined) {
      try {
        const cfg = JSON.parse(readGeneratedText(instancePaths(t.instance).imageConfig, 'build/image_config.json')) as {
          image_type?: string;
        };
        if (cfg.image_type === 'encrypted') says = 'build/image_config.json';
      } catch {
        // Absent (a packaged instance has none) or unreadable: the open says what is wrong.
      }
    }
    if (says) {
      const initfs = instancePaths(t.instance).buildInitfsRoot;
      let key: KeyMode | null;
      try {
        key = builtinImageKey(initfs);
      } catch (err) {
        throw new InputError(
          `${t.instance}: the image is encrypted (${says}) and its built-in key cannot be read (${(err as Error).message}): pass --image-key FILE`,
        );
      }
      if (key) return key;
      throw new InputError(
        `${t.instance}: the image is encrypted (${says}): pass --image-key FILE (the key was not built in: the initfs has no ${BUILTIN_KEY_PATH})`,
      );
    }
  }
  return { kind: 'integrity-only' };
}

/** The `options.MAC` of the layer whose source is `./build/mount/__ROOT`, anywhere in a config. */
function layerMac(node: unknown, source: string): string | undefined {
  if (Array.isArray(node)) {
    for (const n of node) {
      const m = layerMac(n, source);
      if (m) return m;
    }
  } else if (node && typeof node === 'object') {
    const o = node as { source?: unknown; options?: { MAC?: unknown } };
    if (
      typeof o.source === 'string' &&
      o.source.replace(/^\.\//, '') === source &&
      typeof o.options?.MAC === 'string' &&
      o.options.MAC
    )
      return o.options.MAC;
    for (const v of Object.values(node)) {
      const m = layerMac(v, source);
      if (m) return m;
    }
  }
  return undefined;
}

/**
 * Expected root MAC: --mac, else .ROOT_MAC next to __ROOT, else the image layer's MAC in the
 * generated configs (build/Occlum.json before Occlum 0.29.6, build/.Occlum_sys.json after).
 */
function expectedMac(v: Values, t: Target): { mac?: string; source?: string } {
  if (v.mac) return { mac: parseMacOrUsage(v.mac), source: '--mac' };
  const rootMacFile = join(t.imageRoot, '..', '.ROOT_MAC');
  let text: string | undefined;
  try {
    text = readTextIfPresent(rootMacFile, ROOT_MAC_FILE);
  } catch (err) {
    throw new UserError((err as Error).message);
  }
  if (text !== undefined) return { mac: parseMac(text, rootMacFile), source: rootMacFile };
  return configMac(t, false) ?? {};
}

/**
 * The MAC the generated configs give the layer whose source is `t.imageRoot`. `sealedFirst`: the
 * protected copies first, being what the enclave checks at boot; otherwise last, as all a packaged
 * instance (`occlum package`: no .Occlum_sys.json, no build/Occlum.json) keeps.
 */
function configMac(t: Target, sealedFirst: boolean): { mac: string; source: string } | undefined {
  if (!t.instance) return undefined;
  const rel = relative(t.instance, t.imageRoot);
  const p = instancePaths(t.instance);
  const plain = [
    [p.sysJson, 'build/.Occlum_sys.json', false],
    [p.buildOcclumJson, 'build/Occlum.json', false],
  ] as const;
  const sealed = [
    [p.sysJsonProtected, 'build/.Occlum_sys.json.protected', true],
    [`${p.buildOcclumJson}.protected`, 'build/Occlum.json.protected', true],
  ] as const;
  for (const [file, f, isSealed] of sealedFirst ? [...sealed, ...plain] : [...plain, ...sealed]) {
    try {
      const text = isSealed ? readProtectedConfig(file) : readGeneratedText(file, f);
      const mac = text === undefined ? undefined : layerMac(JSON.parse(text), rel);
      if (mac) return { mac: parseMac(mac, f), source: f };
    } catch {
      // Missing or unreadable config: try the next one.
    }
  }
  return undefined;
}

/** A generated config kept as an integrity-only PF; undefined when absent or implausibly big. */
function readProtectedConfig(file: string): string | undefined {
  const st = lstatSync(file, { throwIfNoEntry: false });
  if (!st?.isFile() || st.size > MAX_SMALL_FILE_BYTES) return undefined;
  return pfReadSync(file).toString('utf8');
}

function parseMacOrUsage(s: string): string {
  try {
    return parseMac(s, '--mac');
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function openView(v: Values, t: Target): FsView {
  const layer = t.initfs ? 'image' : (v.layer ?? 'image');
  if (!['image', 'run', 'merged'].includes(layer))
    throw new UsageError(`--layer must be image, run, merged or initfs (got "${layer}")`);
  if (layer !== 'image' && !t.runRoot)
    throw new UsageError(`--layer ${layer} needs an instance directory (with run/mount/__ROOT), not a bare __ROOT`);
  const imageKey = imageKeyOf(v, t);
  const runKey = (): KeyMode => {
    if (imageKey.kind === 'image-key') return imageKey;
    if (v['sgx-sim']) return simKey(v, t.instance);
    const mode = t.instance
      ? (readTextIfPresent(instancePaths(t.instance).sgxMode, {
          what: '.sgx_mode',
          maxBytes: MAX_SMALL_FILE_BYTES,
        })?.trim() ?? '')
      : '';
    if (mode === 'HW') {
      throw new InputError(
        `${t.instance} was built for SGX hardware (.sgx_mode HW): its run layer is sealed with that CPU's seal key and cannot be read outside its enclave; use --layer image`,
      );
    }
    throw new InputError(
      'the run layer of an instance without an image key is sealed with the SGX auto key: pass --sgx-sim for a simulation-mode instance; a hardware-mode run layer cannot be read outside its enclave',
    );
  };
  const runAbsence = t.runRoot !== undefined ? imageAbsence(t.runRoot) : ({ kind: 'not-built' } as const);
  if (layer !== 'image' && runAbsence.kind === 'incomplete')
    throw new InputError(`run layer: ${incompleteImageMessage(t.runRoot!, runAbsence.hostFiles, true)}`);
  const sefsRun = runAbsence.kind === 'present';
  // No SEFS run layer (Occlum's): the host backend's, where its sandboxed programs write.
  const hostUpper = !sefsRun && t.instance ? hostRunLayer(t.instance) : null;
  if (layer === 'run' && !sefsRun && !hostUpper) {
    throw new InputError(`${t.instance}: no run layer yet (no program of the instance has run since its build)`);
  }
  try {
    if (layer !== 'image' && hostUpper) {
      const merged = openHostFs(openImage(t.imageRoot, imageKey, expectedMac(v, t).mac ?? ''), hostUpper);
      return layer === 'run' ? runOnlyView(merged) : merged;
    }
    if (layer === 'image')
      return openImage(
        t.imageRoot,
        v['sgx-sim'] && !t.instance ? simKey(v, undefined) : imageKey,
        expectedMac(v, t).mac ?? '',
      );
    if (layer === 'run') return openImage(t.runRoot!, runKey(), '');
    if (!sefsRun) return openImage(t.imageRoot, imageKey, expectedMac(v, t).mac ?? '');
    return openUnion(t.imageRoot, t.runRoot!, { imageKey, runKey: runKey(), expectedMac: expectedMac(v, t).mac ?? '' });
  } catch (err) {
    throw asUserError(err);
  }
}

/** Engine errors: a path, key or argument the image does not fit is an input error (exit 2); a
 *  failed check of the image's integrity is a problem found (exit 1). */
function asUserError(err: unknown): Error {
  if (err instanceof UsageError || err instanceof UserError) return err;
  const code = (err as { code?: string }).code;
  if (code === 'EMISSING' || code === 'EUSAGE' || code === 'EWRONGKEY' || code === 'EWRONGMODE')
    return new InputError((err as Error).message);
  return new UserError((err as Error).message);
}

function modeString(e: FsEntry): string {
  const t = { dir: 'd', symlink: 'l', socket: 's', file: '-', other: '?' }[e.type];
  const rwx = (n: number) => `${n & 4 ? 'r' : '-'}${n & 2 ? 'w' : '-'}${n & 1 ? 'x' : '-'}`;
  return t + rwx(e.mode >> 6) + rwx(e.mode >> 3) + rwx(e.mode);
}

function lsLine(e: FsEntry): string {
  const layer = e.layer ? ` ${e.layer.padEnd(7)}` : '';
  const name = e.type === 'symlink' ? `${e.name} -> ${e.target ?? '?'}` : e.type === 'dir' ? `${e.name}/` : e.name;
  return `${modeString(e)} ${String(e.nlink).padStart(2)} ${String(e.size).padStart(10)} ${String(e.inode).padStart(5)}${layer} ${name}`;
}

function progressPrinter(json: boolean | undefined, what: string): ((p: Progress) => void) | undefined {
  if (json || !process.stderr.isTTY) return undefined;
  return (p) =>
    process.stderr.write(`\r${what} ${p.done}/${p.total} (${(Number(p.bytes ?? 0) / 1048576).toFixed(1)} MiB)\x1b[K`);
}

/** `stale`: the line saying the enclave's config expects another root MAC (a failure too). */
function printVerify(r: VerifyReport, source: string | undefined, stale?: string): void {
  const head = r.ok && !stale ? 'OK' : 'FAILED';
  say(`${head}: ${r.files} files, ${(r.bytes / 1048576).toFixed(1)} MiB checked; root MAC ${r.rootMac}`);
  if (r.expectedRootMac) say(`expected root MAC ${r.expectedRootMac} (from ${source ?? 'caller'})`);
  else say("no expected root MAC given (no .ROOT_MAC or config found): the chain is checked from the image's own root");
  for (const p of r.problems) {
    const where = [p.hostFile && `host file ${p.hostFile}`, p.node !== undefined && `node ${p.node}`]
      .filter(Boolean)
      .join(', ');
    say(`  ${p.kind.padEnd(12)} ${p.path}${where ? ` (${where})` : ''}: ${p.message}`);
  }
  // An instance copied or cloned without its big files is incomplete, not altered: say so once.
  const missing = r.problems.filter((p) => p.kind === 'missing').length;
  if (missing)
    say(
      `${missing} of the image's files ${missing === 1 ? 'is' : 'are'} absent (or only a placeholder): the copy is incomplete ` +
        '(a checkout or mirror that left files out); copy them from where the instance was built',
    );
  if (stale) say(stale);
  if (r.note) say(`note: ${r.note}`);
}

async function pfCommand(sub: string | undefined, rest: string[], v: Values): Promise<number> {
  const file = rest[0];
  if (!sub || !['info', 'cat', 'verify'].includes(sub))
    throw new UsageError('fs pf needs one of info|cat|verify and a FILE');
  if (!file) throw new UsageError(`fs pf ${sub} needs a FILE`);
  if (!existsSync(file)) throw new InputError(`${file}: no such file`);
  const key: KeyMode = v['image-key']
    ? imageKeyOf(v, { imageRoot: '' })
    : v['sgx-sim']
      ? simKey(v, undefined)
      : { kind: 'integrity-only' };
  try {
    if (sub === 'cat') {
      process.stdout.write(await pfRead(file, key));
      return 0;
    }
    if (sub === 'info') {
      const header = pfHeader(file);
      let info: unknown;
      let error: { code: string; message: string; node?: number } | undefined;
      try {
        info = await pfVerify(file, key);
      } catch (err) {
        const e = err as Error & { code?: string; node?: number };
        error = { code: e.code ?? 'ERROR', message: e.message, node: e.node };
      }
      if (v.json) printJson({ file, header, info, error });
      else {
        say(
          `${file}: ${header.magic === 'ELIF_XGS' ? 'SGX protected file' : `magic ${JSON.stringify(header.magic)}`}, version ${header.major}.${header.minor}, ${header.hostBytes} bytes on disk`,
        );
        say(
          `  header: use_user_kdk_key=${header.useUserKdkKey} integrity_only=${header.integrityOnly} update_flag=${header.updateFlag} isv_svn=${header.isvSvn} cpu_svn=${header.cpuSvn}`,
        );
        say(`  MAC ${header.mac}`);
        if (info) {
          const i = info as { mode: string; size: number; nodes: number; extraNodes: number; recovered: boolean };
          say(
            `  ${i.mode}; ${i.size} bytes of content in ${i.nodes} nodes${i.extraNodes ? ` (${i.extraNodes} extra trailing)` : ''}${i.recovered ? '; recovery journal applied in memory' : ''}; all nodes authenticate`,
          );
        } else say(`  cannot open with ${key.kind}: ${error!.message}`);
      }
      return info ? 0 : 1;
    }
    try {
      const info = await pfVerify(file, key);
      if (v.json) printJson({ ok: true, ...info });
      else say(`OK: ${file}: ${info.mode}, ${info.size} bytes, MAC ${info.mac}`);
      return 0;
    } catch (err) {
      const e = err as Error & { code?: string; node?: number };
      if (v.json) printJson({ ok: false, code: e.code, node: e.node, message: e.message });
      else say(`FAILED: ${e.message}`);
      return 1;
    }
  } catch (err) {
    throw asUserError(err);
  }
}

export const command: Command = {
  name: 'fs',
  summary: 'Read, verify, extract, diff and pack Occlum secure-FS images offline (no SGX needed).',
  usage: USAGE,
  options: OPTIONS,
  instance: 'option',
  async run(argv) {
    const parsed = parseCommandArgs(argv, OPTIONS);
    const v = parsed.values as Values;
    const [sub, ...rest] = parsed.positionals;
    if (!sub) throw new UsageError('fs needs a subcommand');
    if (v.watch && sub !== 'pack') throw new UsageError('--watch applies to fs pack only');
    if (sub === 'pf') return pfCommand(rest[0], rest.slice(1), v);
    const json = v.json;
    switch (sub) {
      case 'ls':
      case 'tree':
      case 'stat':
      case 'cat': {
        const t = locate(v.instance, v.layer);
        const view = openView(v, t);
        const path = rest[0] ?? '/';
        if ((sub === 'stat' || sub === 'cat') && !rest[0])
          throw new UsageError(`fs ${sub} needs a PATH inside the image`);
        try {
          if (sub === 'cat') {
            const e = view.stat(path);
            if (e.type === 'dir') throw new InputError(`${path}: is a directory`);
            if (e.type === 'file') await catFile(view, path, e.size);
            else process.stdout.write(await view.readFileAsync(path));
          } else if (sub === 'stat') {
            const e = view.stat(path);
            if (json) printJson(e);
            else
              for (const [k, val] of Object.entries(e))
                say(`${k.padEnd(9)} ${k === 'mode' ? `0${(val as number).toString(8)} (${modeString(e)})` : val}`);
          } else if (sub === 'ls') {
            const e = view.stat(path);
            const l = e.type === 'dir' ? view.listing(path) : { entries: [e], skipped: [] };
            if (json) printJson(l.entries);
            else for (const i of l.entries) say(lsLine(i));
            return reportSkipped(l.skipped);
          } else {
            const top = view.stat(path);
            const prefix = top.path === '/' ? '/' : `${top.path}/`;
            const under = (p: string) => p === top.path || p.startsWith(prefix);
            const tree = top.type === 'dir' ? await view.walkListing() : { entries: [top], skipped: [] };
            const items = tree.entries.filter((e) => under(e.path));
            if (json) printJson(items);
            else {
              const base = top.path === '/' ? 0 : top.path.split('/').length - 1;
              for (const i of items) {
                const depth = i.path === '/' ? 0 : i.path.split('/').length - 1 - base;
                const label = i.path === top.path ? i.path : i.name;
                // The root is "/" already; other directories get a trailing slash.
                const extra =
                  i.type === 'symlink'
                    ? ` -> ${i.target}`
                    : i.type === 'dir'
                      ? i.path === '/'
                        ? ''
                        : '/'
                      : `  (${i.size})`;
                say(`${'  '.repeat(depth)}${label}${extra}${i.layer && i.layer !== 'image' ? `  [${i.layer}]` : ''}`);
              }
            }
            return reportSkipped(tree.skipped.filter((s) => under(s.path)));
          }
        } catch (err) {
          throw asUserError(err);
        }
        return 0;
      }
      case 'verify': {
        const t = locate(v.instance, v.layer);
        const view = openView(v, t);
        const exp = expectedMac(v, t);
        let r: VerifyReport;
        try {
          r = await view.verify({ onProgress: progressPrinter(json, 'verifying') });
        } catch (err) {
          throw asUserError(err);
        }
        if (progressPrinter(json, '')) process.stderr.write('\r\x1b[K');
        // The image may match .ROOT_MAC and still not be what the enclave's config expects (an
        // image repacked after the build): Occlum would refuse to mount it, so verify fails too.
        const cfg = exp.source !== '--mac' && exp.source !== undefined ? configMac(t, true) : undefined;
        const stale = cfg && exp.mac && cfg.mac !== exp.mac ? cfg : undefined;
        const ok = r.ok && !stale;
        if (json)
          printJson({
            ...r,
            ok,
            expectedFrom: exp.source,
            ...(stale ? { configRootMac: stale.mac, configFrom: stale.source } : {}),
          });
        else {
          printVerify(
            r,
            exp.source,
            stale &&
              `  ${'stale-config'.padEnd(12)} the enclave config (${stale.source}) expects root MAC ${stale.mac}, not ${exp.mac}: Occlum refuses to mount this image until the instance is built again`,
          );
        }
        return ok ? 0 : 1;
      }
      case 'extract': {
        const [path, dest] = rest;
        if (!path || !dest) throw new UsageError('fs extract needs PATH and DEST');
        const view = openView(v, locate(v.instance, v.layer));
        try {
          const r = await extract(view, path, dest, { onProgress: progressPrinter(json, 'extracting') });
          if (progressPrinter(json, '')) process.stderr.write('\r\x1b[K');
          if (json) printJson(r);
          else {
            say(
              `extracted ${r.files} files, ${r.dirs} directories, ${r.symlinks} symlinks (${r.bytes} bytes) to ${resolve(dest)}`,
            );
            for (const s of r.skipped) say(`  skipped ${s.path}: ${s.reason}`);
          }
          return r.skipped.length ? 1 : 0;
        } catch (err) {
          throw asUserError(err);
        }
      }
      case 'diff': {
        const t = locate(v.instance, v.layer);
        const src = rest[0] ?? (t.instance ? instancePaths(t.instance)[t.initfs ? 'initfs' : 'image'] : undefined);
        if (!src) throw new UsageError('fs diff on a bare __ROOT needs the SRC directory');
        if (!existsSync(src)) throw new InputError(`${src}: no such directory`);
        const view = openView({ ...v, layer: 'image' }, t);
        const items = await (async () => {
          try {
            return await diffWithSource(view, src, { onProgress: progressPrinter(json, 'comparing') });
          } catch (err) {
            throw asUserError(err);
          } finally {
            if (progressPrinter(json, '')) process.stderr.write('\r\x1b[K');
          }
        })();
        const sign = { added: '+', removed: '-', changed: 'M', mode: 'm', type: 'T' } as const;
        if (json) printJson({ src: resolve(src), identical: items.length === 0, items });
        else if (items.length === 0) say(`image matches ${resolve(src)}`);
        else for (const i of items) say(`${sign[i.change]} ${i.path}${i.detail ? `  (${i.detail})` : ''}`);
        return items.length ? 1 : 0;
      }
      case 'pack': {
        if (v.watch && v.full) throw new UsageError('--watch repacks incrementally; it cannot be combined with --full');
        const dir = instanceDir(v.instance, undefined);
        // -C may name an existing __ROOT itself: then it is the destination and SRC is required.
        const bareRoot = existsSync(join(dir, 'metadata'));
        if (bareRoot && !rest[0])
          throw new UsageError(`${dir} is an __ROOT directory: give the SRC directory to pack into it`);
        const src = rest[0] ?? instancePaths(dir).image;
        if (!existsSync(src)) throw new InputError(`${src}: no such directory to pack`);
        const outRoot = v.out ?? (bareRoot ? dir : instancePaths(dir).buildRoot);
        const macFile = v['mac-file'] ?? join(outRoot, '..', '.ROOT_MAC');
        const key = v['image-key'] ? imageKeyOf(v, { imageRoot: outRoot }) : ({ kind: 'integrity-only' } as KeyMode);
        if (v.watch) {
          if (!statSync(src).isDirectory())
            throw new InputError(`${src}: not a directory; --watch packs a source directory`);
          return packWatch({ src, outRoot, macFile, key, json: !!json });
        }
        try {
          const r = await packImage({
            src,
            outRoot,
            macFile,
            key,
            incremental: !v.full,
            onProgress: progressPrinter(json, 'packing'),
          });
          if (progressPrinter(json, '')) process.stderr.write('\r\x1b[K');
          if (json)
            printJson({ ...r, outRoot: resolve(outRoot), macFile: resolve(macFile), info: imageInfo(outRoot, key) });
          else
            say(
              `packed ${resolve(src)} -> ${resolve(outRoot)}: root MAC ${r.rootMac}; ${r.filesPacked} inode files written, ${r.filesReused} reused; ${(r.bytes / 1048576).toFixed(1)} MiB in ${r.ms.toFixed(0)} ms`,
            );
          return 0;
        } catch (err) {
          throw asUserError(err);
        }
      }
      default:
        throw new UsageError(`unknown fs subcommand "${sub}"`);
    }
  },
};

/**
 * Entries a listing left out (illegal names, unreadable directories) go to stderr, sanitised
 * (a stored name may hold escape sequences); any makes the command fail. Exit status.
 */
function reportSkipped(skipped: SkippedEntry[]): number {
  for (const s of skipped) {
    const name = s.name === undefined ? '' : ` entry ${JSON.stringify(s.name)}`;
    sayErr(`occlum-studio: skipped in ${s.path}${name}: ${s.reason}`);
  }
  if (skipped.length)
    process.stderr.write(
      `occlum-studio: ${skipped.length} entr${skipped.length === 1 ? 'y was' : 'ies were'} left out (see above); fs verify checks the whole image\n`,
    );
  return skipped.length ? 1 : 0;
}

/** Writes a file to stdout in ranged reads, so memory does not grow with the file. */
async function catFile(view: FsView, path: string, size: number): Promise<void> {
  exitWhenStdoutCloses();
  const CHUNK = 8 << 20;
  for (let off = 0; off < size; off += CHUNK) {
    const b = await view.readRange(path, off, Math.min(CHUNK, size - off));
    if (!process.stdout.write(b)) await once(process.stdout, 'drain');
    if (b.length < Math.min(CHUNK, size - off)) break;
  }
}
