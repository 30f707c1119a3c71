// Stand-in for Occlum 0.31.0's `gen_internal_conf --user_json <f> gen_conf --user_fs_mac <mac>
// --init_fs_mac <mac> --output_json <f> --sdk_xml <f>` (tools/gen_internal_conf/src/main.rs):
// the same arguments, the same outputs (Enclave.xml on one line, .Occlum_sys.json pretty-printed,
// neither with a trailing newline) and the same failures — a serde panic (exit 101) for a
// malformed or mistyped Occlum.json, and the semantic messages printed on stdout with exit 0
// after the output files were already truncated by the argument validators.
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { parseTree, printParseErrorCode, type Node, type ParseError } from 'jsonc-parser';
import { fail } from './cli.ts';

const KB = 1024;
const MB = KB * 1024;
const GB = MB * 1024;
const TB = GB * 1024;

/** parse_memory_size: trimmed, unit suffix KB|MB|GB|TB|B (case-sensitive), integer value. */
export function parseMemorySize(s: string): number | null {
  const t = s.trim();
  const unit = (['KB', 'MB', 'GB', 'TB', 'B'] as const).find((u) => t.endsWith(u));
  if (!unit) return null;
  const num = t.slice(0, t.length - unit.length).trim();
  if (!/^\+?\d+$/.test(num)) return null;
  return Number(num) * { KB, MB, GB, TB, B: 1 }[unit];
}

/** A serde_json error, with the line and column serde reports. */
class SerdeError extends Error {}

function lineCol(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let col = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      col = 0;
    } else col++;
  }
  return { line, column: col + 1 };
}

function syntaxMessage(text: string, e: ParseError): string {
  const next = text.slice(e.offset).trimStart()[0];
  switch (printParseErrorCode(e.error)) {
    case 'PropertyNameExpected':
      return next === '}' ? 'trailing comma' : 'key must be a string';
    case 'ValueExpected':
      return next === ']' || next === '}' ? 'trailing comma' : 'expected value';
    case 'CommaExpected':
    case 'CloseBraceExpected':
    case 'CloseBracketExpected':
      return e.offset >= text.length ? 'EOF while parsing an object' : 'expected `,` or `}`';
    case 'ColonExpected':
      return 'expected `:`';
    case 'EndOfFileExpected':
      return 'trailing characters';
    default:
      return 'expected value';
  }
}

/** The serde "unexpected" part of an invalid-type message. */
function unexpected(n: Node): string {
  switch (n.type) {
    case 'string':
      return `string ${JSON.stringify(n.value)}`;
    case 'number':
      return Number.isInteger(n.value) ? `integer \`${n.value}\`` : `floating point \`${n.value}\``;
    case 'boolean':
      return `boolean \`${n.value}\``;
    case 'null':
      return 'null';
    case 'array':
      return 'sequence';
    default:
      return 'map';
  }
}

/** Typed reads of the parse tree, failing like serde (position = the end of the value). */
class Reader {
  constructor(private readonly text: string) {}

  private at(n: Node, msg: string): SerdeError {
    const { line, column } = lineCol(this.text, n.offset + n.length - 1);
    return new SerdeError(`${msg}", line: ${line}, column: ${column}`);
  }
  private typeError(n: Node, expected: string): SerdeError {
    return this.at(n, `invalid type: ${unexpected(n)}, expected ${expected}`);
  }

  fields(n: Node, struct: string): Map<string, Node> {
    if (n.type !== 'object') throw this.typeError(n, `struct ${struct}`);
    const m = new Map<string, Node>();
    for (const p of n.children ?? []) {
      const [k, v] = p.children ?? [];
      if (!k || !v) continue;
      if (m.has(k.value)) throw this.at(k, `duplicate field \`${k.value}\``);
      m.set(k.value, v);
    }
    return m;
  }
  need(obj: Node, f: Map<string, Node>, name: string): Node {
    const v = f.get(name);
    if (!v) throw this.at(obj, `missing field \`${name}\``);
    return v;
  }
  str(n: Node): string {
    if (n.type !== 'string') throw this.typeError(n, 'a string');
    return n.value as string;
  }
  u32(n: Node): number {
    if (n.type !== 'number' || !Number.isInteger(n.value)) throw this.typeError(n, 'u32');
    if (n.value < 0 || n.value > 0xffffffff) throw this.at(n, `invalid value: integer \`${n.value}\`, expected u32`);
    return n.value as number;
  }
  bool(n: Node): boolean {
    if (n.type !== 'boolean') throw this.typeError(n, 'a boolean');
    return n.value as boolean;
  }
  opt<T>(n: Node | undefined, read: (n: Node) => T): T | undefined {
    return !n || n.type === 'null' ? undefined : read(n);
  }
  array(n: Node): Node[] {
    if (n.type !== 'array') throw this.typeError(n, 'a sequence');
    return n.children ?? [];
  }
}

interface Mount {
  type: string;
  target: string;
  source?: string;
  options: { MAC?: string; layers?: Mount[]; temporary?: boolean; cache_size?: string; disk_size?: string };
}

interface UserConfig {
  resource_limits: {
    init_num_of_threads?: number;
    max_num_of_threads: number;
    kernel_space_heap_size: string;
    kernel_space_heap_max_size?: string;
    kernel_space_stack_size: string;
    user_space_size: string;
    user_space_max_size?: string;
  };
  process: { default_stack_size: string; default_heap_size: string; default_mmap_size: string };
  entry_points: unknown;
  env: unknown;
  metadata: {
    product_id: number;
    version_number: number;
    debuggable: boolean;
    disable_log?: boolean;
    enable_kss: boolean;
    family_id: { high: string; low: string };
    ext_prod_id: { high: string; low: string };
  };
  feature: { amx: number; pkru: number; io_uring: number; enable_edmm: boolean; enable_posix_shm: boolean };
  mount: Mount[];
}

/** Deserialises Occlum.json into gen_internal_conf's structs (unknown keys ignored, as serde does). */
export function readUserConfig(text: string): UserConfig {
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  if (errors.length > 0 || !root) {
    const e = errors[0] ?? { error: 0, offset: 0, length: 0 };
    const { line, column } = lineCol(text, e.offset + 1);
    throw new SerdeError(`${syntaxMessage(text, e as ParseError)}", line: ${line}, column: ${column}`);
  }
  const r = new Reader(text);
  const raw = (n: Node): unknown => JSON.parse(text.slice(n.offset, n.offset + n.length));
  const top = r.fields(root, 'OcclumConfiguration');
  const id = (n: Node) => {
    const f = r.fields(n, 'OcclumMetaID');
    return { high: r.str(r.need(n, f, 'high')), low: r.str(r.need(n, f, 'low')) };
  };
  const mount = (n: Node): Mount => {
    const f = r.fields(n, 'OcclumMount');
    const type = r.str(r.need(n, f, 'type'));
    const target = r.str(r.need(n, f, 'target'));
    const source = r.opt(f.get('source'), (x) => r.str(x));
    const o = f.get('options');
    const options: Mount['options'] = {};
    if (o && o.type !== 'null') {
      const of = r.fields(o, 'OcclumMountOptions');
      const mac = r.opt(of.get('MAC'), (x) => r.str(x));
      if (mac !== undefined) options.MAC = mac;
      const layers = r.opt(of.get('layers'), (x) => r.array(x).map(mount));
      if (layers !== undefined) options.layers = layers;
      if (of.get('temporary') && r.bool(of.get('temporary')!)) options.temporary = true;
      const cache = r.opt(of.get('cache_size'), (x) => r.str(x));
      if (cache !== undefined) options.cache_size = cache;
      const disk = r.opt(of.get('disk_size'), (x) => r.str(x));
      if (disk !== undefined) options.disk_size = disk;
    }
    return { type, target, ...(source !== undefined ? { source } : {}), options };
  };
  // serde visits fields in the order they appear in the file, and reports missing ones at the end
  // of the object: read present fields first (in file order), then check the required ones.
  const rlN = r.need(root, top, 'resource_limits');
  const procN = r.need(root, top, 'process');
  const mdN = r.need(root, top, 'metadata');
  const featN = r.need(root, top, 'feature');
  const rl = r.fields(rlN, 'OcclumResourceLimits');
  const pr = r.fields(procN, 'OcclumProcess');
  const md = r.fields(mdN, 'OcclumMetadata');
  const ft = r.fields(featN, 'OcclumFeature');
  const cfg: UserConfig = {
    resource_limits: {
      init_num_of_threads: r.opt(rl.get('init_num_of_threads'), (x) => r.u32(x)),
      max_num_of_threads: r.u32(r.need(rlN, rl, 'max_num_of_threads')),
      kernel_space_heap_size: r.str(r.need(rlN, rl, 'kernel_space_heap_size')),
      kernel_space_heap_max_size: r.opt(rl.get('kernel_space_heap_max_size'), (x) => r.str(x)),
      kernel_space_stack_size: r.str(r.need(rlN, rl, 'kernel_space_stack_size')),
      user_space_size: r.str(r.need(rlN, rl, 'user_space_size')),
      user_space_max_size: r.opt(rl.get('user_space_max_size'), (x) => r.str(x)),
    },
    process: {
      default_stack_size: r.str(r.need(procN, pr, 'default_stack_size')),
      default_heap_size: r.str(r.need(procN, pr, 'default_heap_size')),
      default_mmap_size: r.str(r.need(procN, pr, 'default_mmap_size')),
    },
    // serde_json::Value: copied as written (the LibOS, not the build, checks them).
    entry_points: raw(r.need(root, top, 'entry_points')),
    env: raw(r.need(root, top, 'env')),
    metadata: {
      product_id: r.u32(r.need(mdN, md, 'product_id')),
      version_number: r.u32(r.need(mdN, md, 'version_number')),
      debuggable: r.bool(r.need(mdN, md, 'debuggable')),
      disable_log: r.opt(md.get('disable_log'), (x) => r.bool(x)),
      enable_kss: r.bool(r.need(mdN, md, 'enable_kss')),
      family_id: id(r.need(mdN, md, 'family_id')),
      ext_prod_id: id(r.need(mdN, md, 'ext_prod_id')),
    },
    feature: {
      amx: r.opt(ft.get('amx'), (x) => r.u32(x)) ?? 0,
      pkru: r.opt(ft.get('pkru'), (x) => r.u32(x)) ?? 0,
      io_uring: r.opt(ft.get('io_uring'), (x) => r.u32(x)) ?? 0,
      enable_edmm: r.opt(ft.get('enable_edmm'), (x) => r.bool(x)) ?? false,
      enable_posix_shm: r.opt(ft.get('enable_posix_shm'), (x) => r.bool(x)) ?? false,
    },
    mount: r.array(r.need(root, top, 'mount')).map(mount),
  };
  return cfg;
}

const EDMM = { kernelHeapMax: GB, userSpaceMax: 16 * GB, tcsInit: 16, tcsMax: 4096, extraUserRegion: GB };

/** Rust's `{:?}` of an Option<String> / Option<u32>. */
const dbg = (v: string | number | undefined) => (v === undefined ? 'None' : typeof v === 'string' ? `Some(${JSON.stringify(v)})` : `Some(${v})`);

function hexId(s: string): bigint {
  const h = s.replace(/^(0x)+/, '');
  if (!/^[0-9a-fA-F]{1,16}$/.test(h)) {
    panic('64 bit hex string ID required, such as 0x1234567812345678: ParseIntError { kind: InvalidDigit }', 'src/main.rs:587:10');
  }
  return BigInt(`0x${h}`);
}

function panic(msg: string, where: string): never {
  process.stderr.write(`thread 'main' panicked at '${msg}', ${where}\nnote: run with \`RUST_BACKTRACE=1\` environment variable to display a backtrace\n`);
  process.exit(101);
}

/** The mount part of the internal config, or the error string gen_app_config returns. */
function appConfig(entryPoints: unknown, mounts: Mount[], userMac: string, initMac: string): unknown[] | string {
  const proc = { target: '/proc', type: 'procfs' };
  const dev = { target: '/dev', type: 'devfs' };
  const root = mounts.find((m) => m.target === '/' && m.type === 'unionfs');
  if (!root) return 'the root UnionFS is not valid';
  if (!root.options.layers) return 'the root UnionFS must be given layers';
  const image = root.options.layers.find((m) => m.target === '/' && m.type === 'sefs' && m.options.MAC !== undefined);
  if (!image) return 'the image SEFS in layers is not valid';
  image.options.MAC = userMac;
  const initRoot = {
    target: '/',
    type: 'unionfs',
    options: {
      layers: [
        { target: '/', type: 'sefs', source: './build/initfs/__ROOT', options: { MAC: initMac } },
        { target: '/', type: 'sefs', source: './run/initfs/__ROOT' },
      ],
    },
  };
  return [
    { stage: 'init', entry_points: ['/bin'], mount: [initRoot, proc, dev] },
    { stage: 'app', entry_points: entryPoints, mount: [proc, dev, ...mounts.map(serializeMount)] },
  ];
}

/** OcclumMount as serde writes it back: type, target, source?, options (omitted when default). */
function serializeMount(m: Mount): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (m.options.MAC !== undefined) o.MAC = m.options.MAC;
  if (m.options.layers !== undefined) o.layers = m.options.layers.map(serializeMount);
  if (m.options.temporary) o.temporary = true;
  if (m.options.cache_size !== undefined) o.cache_size = m.options.cache_size;
  if (m.options.disk_size !== undefined) o.disk_size = m.options.disk_size;
  return { type: m.type, target: m.target, ...(m.source !== undefined ? { source: m.source } : {}), ...(Object.keys(o).length ? { options: o } : {}) };
}

interface Args {
  userJson: string;
  userFsMac: string;
  initFsMac: string;
  outputJson: string;
  sdkXml: string;
}

const USAGE = 'USAGE:\n    gen_internal_conf --user_json <input user json> [SUBCOMMAND]\n\nFor more information try --help';

/** clap's parsing, validators included: they create (truncate) both output files at once. */
function parseArgs(argv: string[]): Args {
  const top: Record<string, string> = {};
  const sub: Record<string, string> = {};
  let inSub = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!inSub && a === 'gen_conf') {
      inSub = true;
      continue;
    }
    const known = inSub ? ['--user_fs_mac', '--init_fs_mac', '--output_json', '--sdk_xml'] : ['--user_json'];
    if (!known.includes(a)) fail(`error: Found argument '${a}' which wasn't expected, or isn't valid in this context\n\n${USAGE}`, 1);
    const v = argv[i + 1];
    if (v === undefined) fail(`error: The argument '${a} <value>' requires a value but none was supplied\n\n${USAGE}`, 1);
    (inSub ? sub : top)[a] = v;
    i++;
  }
  if (top['--user_json'] === undefined) fail(`error: The following required arguments were not provided:\n    --user_json <input user json>\n\n${USAGE}`, 1);
  if (!existsSync(top['--user_json'])) fail(`error: Invalid value for '--user_json <input user json>': ${top['--user_json']} is not exist`, 1);
  if (!inSub) panic('internal error: entered unreachable code', 'src/main.rs:553:9');
  const missing = ['--user_fs_mac', '--init_fs_mac', '--output_json', '--sdk_xml'].filter((k) => sub[k] === undefined);
  if (missing.length) fail(`error: The following required arguments were not provided:\n${missing.map((m) => `    ${m} <value>`).join('\n')}\n\n${USAGE}`, 1);
  for (const k of ['--output_json', '--sdk_xml']) {
    try {
      closeSync(openSync(sub[k]!, 'w'));
    } catch (e) {
      fail(`error: Invalid value for '${k} <value>': ${(e as Error).message}`, 1);
    }
  }
  return { userJson: top['--user_json'], userFsMac: sub['--user_fs_mac']!, initFsMac: sub['--init_fs_mac']!, outputJson: sub['--output_json']!, sdkXml: sub['--sdk_xml']! };
}

export function genInternalConf(argv: string[]): void {
  const a = parseArgs(argv);
  let c: UserConfig;
  try {
    c = readUserConfig(readFileSync(a.userJson, 'utf8'));
  } catch (e) {
    if (!(e instanceof SerdeError)) throw e;
    panic(`It is not a valid Occlum configuration file.: Error("${e.message})`, 'src/main.rs:124:10');
  }
  const edmmEnv = process.env.INSTANCE_IS_FOR_EDMM_PLATFORM;
  if (edmmEnv === undefined) panic('internal error: entered unreachable code', 'src/main.rs:130:18');
  const edmm = edmmEnv === 'YES' || c.feature.enable_edmm;
  console.log(`Build on platform ${edmm ? 'WITH' : 'WITHOUT'} EDMM support`);
  const rl = c.resource_limits;
  const say = (m: string) => {
    console.log(m);
    process.exit(0);
  };
  let tcsInit: number;
  let tcsMax: number;
  if (edmm) {
    tcsInit = rl.init_num_of_threads ?? Math.min(EDMM.tcsInit, rl.max_num_of_threads);
    tcsMax = Math.max(rl.max_num_of_threads, EDMM.tcsMax);
  } else tcsInit = tcsMax = rl.max_num_of_threads;
  if (tcsInit > tcsMax) say(`init_num_of_threads: ${dbg(rl.init_num_of_threads)}, max_num_of_threads: ${rl.max_num_of_threads}, wrong configuration`);
  const stack = parseMemorySize(rl.kernel_space_stack_size);
  if (stack === null) say(`The kernel_space_stack_size "${rl.kernel_space_stack_size}" is not correct.`);
  const heapInit0 = parseMemorySize(rl.kernel_space_heap_size);
  if (heapInit0 === null) say(`The kernel_space_heap_size "${rl.kernel_space_heap_size}" is not correct.`);
  let heapMaxCfg: number | undefined;
  if (rl.kernel_space_heap_max_size !== undefined) {
    const v = parseMemorySize(rl.kernel_space_heap_max_size);
    if (v === null) say(`The kernel_space_heap_max_size "${rl.kernel_space_heap_max_size}" is not correct.`);
    heapMaxCfg = v!;
  }
  let heapInit = heapInit0!;
  let heapMax: number;
  if (heapMaxCfg !== undefined) {
    if (edmm) heapMax = Math.max(heapMaxCfg, EDMM.kernelHeapMax);
    else heapInit = heapMax = heapMaxCfg;
  } else heapMax = edmm ? Math.max(heapInit, EDMM.kernelHeapMax) : heapInit;
  if (heapInit > heapMax) {
    say(`kernel_space_heap_size: ${JSON.stringify(rl.kernel_space_heap_size)}, kernel_space_heap_max_size: ${dbg(rl.kernel_space_heap_max_size)}, wrong configuration`);
  }
  const userInit = parseMemorySize(rl.user_space_size);
  if (userInit === null) say(`The user_space_size "${rl.user_space_size}" is not correct.`);
  let userMaxCfg: number | undefined;
  if (rl.user_space_max_size !== undefined) {
    const v = parseMemorySize(rl.user_space_max_size);
    if (v === null) say(`The user_space_max_size "${rl.user_space_max_size}" is not correct.`);
    userMaxCfg = v!;
  }
  const userMax = userMaxCfg !== undefined ? (edmm ? Math.max(userMaxCfg, EDMM.userSpaceMax) : userMaxCfg) : edmm ? Math.max(userInit!, EDMM.userSpaceMax) : userInit!;
  if (userInit! > userMax) say(`user_space_size: ${JSON.stringify(rl.user_space_size)}, user_space_max_size: ${dbg(rl.user_space_max_size)}, wrong configuration`);
  const reserved = edmm ? userInit! : userMax;
  const userRegion = edmm ? (userMax === userInit ? userMax : userMax + EDMM.extraUserRegion) : undefined;
  for (const m of c.mount) {
    if (m.options.cache_size !== undefined) {
      const cs = parseMemorySize(m.options.cache_size);
      if (cs === null) say(`The cache_size "${m.options.cache_size}" is not correct.`);
      if (cs! < 48 * 4096 || cs! % 4096 !== 0 || cs! > heapMax) {
        say(
          `Invalid cache_size "${cs}". The cache_size must be 1. larger than the minimum size "196608", 2. aligned with cache page size "4096", 3. smaller than the kernel_heap_max_size "${heapMax}".`,
        );
      }
    }
    if (m.type === 'ext2' && m.options.disk_size === undefined) say('The disk_size must be specified for Ext2.');
    if (m.options.disk_size !== undefined) {
      const ds = parseMemorySize(m.options.disk_size);
      if (ds === null) say(`The disk_size "${m.options.disk_size}" is not correct.`);
      if (ds! < 5 * GB) say(`The disk_size "${ds}" is too small, minimum size is "${5 * GB}".`);
    }
  }
  const md = c.metadata;
  const kss = md.enable_kss ? [1n, hexId(md.ext_prod_id.high), hexId(md.ext_prod_id.low), hexId(md.family_id.high), hexId(md.family_id.low)] : [0n, 0n, 0n, 0n, 0n];
  const xml: [string, string | number | bigint][] = [
    ['ProdID', md.product_id],
    ['ISVSVN', md.version_number],
    ['StackMaxSize', stack!],
    ['StackMinSize', stack!],
    ['HeapInitSize', heapInit],
    ['HeapMaxSize', heapMax],
    ['HeapMinSize', heapInit],
    ['TCSNum', tcsInit],
    ['TCSMaxNum', tcsMax],
    ['TCSMinPool', tcsInit],
    ['TCSPolicy', 0],
    ['DisableDebug', md.debuggable ? 0 : 1],
    ['MiscSelect', edmm ? '1' : '0'],
    ['MiscMask', edmm ? '0xFFFFFFFF' : '0'],
    ['ReservedMemMaxSize', reserved],
    ['ReservedMemMinSize', reserved],
    ['ReservedMemInitSize', reserved],
    ['ReservedMemExecutable', 1],
    ...(userRegion !== undefined ? [['UserRegionSize', userRegion] as [string, number]] : []),
    ['EnableKSS', kss[0]!],
    ['ISVEXTPRODID_H', kss[1]!],
    ['ISVEXTPRODID_L', kss[2]!],
    ['ISVFAMILYID_H', kss[3]!],
    ['ISVFAMILYID_L', kss[4]!],
    ['PKRU', c.feature.pkru],
    ['AMX', c.feature.amx],
  ];
  const app = appConfig(c.entry_points, c.mount, a.userFsMac, a.initFsMac);
  if (typeof app === 'string') say(`Mount configuration invalid: Err(${JSON.stringify(app)})`);
  const internal = {
    resource_limits: { user_space_init_size: `${userInit}B`, user_space_max_size: `${userMax}B` },
    process: c.process,
    env: c.env,
    disable_log: md.disable_log ?? !md.debuggable,
    app,
    feature: c.feature,
  };
  writeFileSync(a.sdkXml, `<EnclaveConfiguration>${xml.map(([k, v]) => `<${k}>${v}</${k}>`).join('')}</EnclaveConfiguration>`);
  writeFileSync(a.outputJson, JSON.stringify(internal, null, 2));
}
