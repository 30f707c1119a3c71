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

/** A serde_json error, as its Debug form shows it: `<message>", line: L, column: C`. */
class SerdeError extends Error {}

/** The inside of Rust's `{:?}` of a string (the panic prints the error with Debug). */
const rustDebug = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');

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

/** Whether `offset` is where an object key is expected (after `{` or a `,` inside an object). */
function atKey(text: string, offset: number): boolean {
  const stack: string[] = [];
  let last = '';
  for (let i = 0; i < offset; i++) {
    const c = text[i]!;
    if (c === '"') {
      for (i++; i < offset && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      last = '"';
    } else if (c === '{' || c === '[') {
      stack.push(c);
      last = c;
    } else if (c === '}' || c === ']') {
      stack.pop();
      last = c;
    } else if (!/\s/.test(c)) last = c;
  }
  return last === '{' || (last === ',' && stack.at(-1) === '{');
}

function syntaxMessage(text: string, e: ParseError): string {
  const next = text.slice(e.offset).trimStart()[0];
  // A comment (serde_json has none) is read as a key or a value that cannot start with '/'.
  if (printParseErrorCode(e.error) === 'InvalidCommentToken' || next === '/')
    return atKey(text, e.offset) ? 'key must be a string' : 'expected value';
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
    return new SerdeError(`${rustDebug(msg)}", line: ${line}, column: ${column}`);
  }
  private typeError(n: Node, expected: string): SerdeError {
    return this.at(n, `invalid type: ${unexpected(n)}, expected ${expected}`);
  }

  /**
   * A struct as serde reads it: fields in the order they appear (an error inside one is reported
   * before any missing field), unknown keys skipped, then the first missing required field,
   * reported at the closing brace.
   */
  struct<T extends object>(
    n: Node,
    name: string,
    fields: { [K in keyof T]-?: (v: Node) => T[K] },
    required: (keyof T)[],
  ): T {
    if (n.type !== 'object') throw this.typeError(n, `struct ${name}`);
    const out: Partial<T> = {};
    const seen = new Set<string>();
    for (const p of n.children ?? []) {
      const [k, v] = p.children ?? [];
      if (!k || !v || !(k.value in fields)) continue;
      if (seen.has(k.value)) throw this.at(k, `duplicate field \`${k.value}\``);
      seen.add(k.value);
      out[k.value as keyof T] = fields[k.value as keyof T](v);
    }
    const missing = required.find((f) => !seen.has(f as string));
    if (missing !== undefined) throw this.at(n, `missing field \`${String(missing)}\``);
    return out as T;
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
    const { line, column } = lineCol(text, e.offset);
    throw new SerdeError(`${syntaxMessage(text, e as ParseError)}", line: ${line}, column: ${column}`);
  }
  const r = new Reader(text);
  // serde_json::Value: copied as written (the LibOS, not the build, checks them).
  const raw = (n: Node): unknown => JSON.parse(text.slice(n.offset, n.offset + n.length));
  const str = (n: Node) => r.str(n);
  const optStr = (n: Node) => r.opt(n, str);
  const u32 = (n: Node) => r.u32(n);
  const bool = (n: Node) => r.bool(n);
  const id = (n: Node) =>
    r.struct<{ high: string; low: string }>(n, 'OcclumMetaID', { high: str, low: str }, ['high', 'low']);
  const mount = (n: Node): Mount => {
    const m = r.struct<{ type: string; target: string; source?: string; options?: Mount['options'] }>(
      n,
      'OcclumMount',
      {
        type: str,
        target: str,
        source: optStr,
        options: (o) =>
          o.type === 'null'
            ? {}
            : r.struct<Mount['options']>(
                o,
                'OcclumMountOptions',
                {
                  MAC: optStr,
                  layers: (x) => r.opt(x, (l) => r.array(l).map(mount)),
                  temporary: (x) => r.opt(x, bool) ?? false,
                  cache_size: optStr,
                  disk_size: optStr,
                },
                [],
              ),
      },
      ['type', 'target'],
    );
    const options = Object.fromEntries(
      Object.entries(m.options ?? {}).filter(([, v]) => v !== undefined && v !== false),
    ) as Mount['options'];
    return { type: m.type, target: m.target, ...(m.source !== undefined ? { source: m.source } : {}), options };
  };
  return r.struct<UserConfig>(
    root,
    'OcclumConfiguration',
    {
      resource_limits: (n) =>
        r.struct<UserConfig['resource_limits']>(
          n,
          'OcclumResourceLimits',
          {
            init_num_of_threads: (x) => r.opt(x, u32),
            max_num_of_threads: u32,
            kernel_space_heap_size: str,
            kernel_space_heap_max_size: optStr,
            kernel_space_stack_size: str,
            user_space_size: str,
            user_space_max_size: optStr,
          },
          ['max_num_of_threads', 'kernel_space_heap_size', 'kernel_space_stack_size', 'user_space_size'],
        ),
      process: (n) =>
        r.struct<UserConfig['process']>(
          n,
          'OcclumProcess',
          { default_stack_size: str, default_heap_size: str, default_mmap_size: str },
          ['default_stack_size', 'default_heap_size', 'default_mmap_size'],
        ),
      entry_points: raw,
      env: raw,
      metadata: (n) =>
        r.struct<UserConfig['metadata']>(
          n,
          'OcclumMetadata',
          {
            product_id: u32,
            version_number: u32,
            debuggable: bool,
            disable_log: (x) => r.opt(x, bool),
            enable_kss: bool,
            family_id: id,
            ext_prod_id: id,
          },
          ['product_id', 'version_number', 'debuggable', 'enable_kss', 'family_id', 'ext_prod_id'],
        ),
      feature: (n) => {
        const f = r.struct<Partial<UserConfig['feature']>>(
          n,
          'OcclumFeature',
          {
            amx: (x) => r.opt(x, u32),
            pkru: (x) => r.opt(x, u32),
            io_uring: (x) => r.opt(x, u32),
            enable_edmm: (x) => r.opt(x, bool),
            enable_posix_shm: (x) => r.opt(x, bool),
          },
          [],
        );
        return {
          amx: f.amx ?? 0,
          pkru: f.pkru ?? 0,
          io_uring: f.io_uring ?? 0,
          enable_edmm: f.enable_edmm ?? false,
          enable_posix_shm: f.enable_posix_shm ?? false,
        };
      },
      mount: (n) => r.array(n).map(mount),
    },
    ['resource_limits', 'process', 'entry_points', 'env', 'metadata', 'feature', 'mount'],
  );
}

const EDMM = { kernelHeapMax: GB, userSpaceMax: 16 * GB, tcsInit: 16, tcsMax: 4096, extraUserRegion: GB };

/** Rust's `{:?}` of an Option<String> / Option<u32>. */
const dbg = (v: string | number | undefined) =>
  v === undefined ? 'None' : typeof v === 'string' ? `Some(${JSON.stringify(v)})` : `Some(${v})`;

/** get_u64_id_high_and_low: `high` is parsed at line 630, `low` at 632 of main.rs. */
function hexId(s: string, line: number): bigint {
  const h = s.replace(/^(0x)+/, '');
  if (!/^[0-9a-fA-F]{1,16}$/.test(h)) {
    const kind = h === '' ? 'Empty' : /^[0-9a-fA-F]+$/.test(h) ? 'PosOverflow' : 'InvalidDigit';
    panic(
      `64 bit hex string ID required, such as 0x1234567812345678: ParseIntError { kind: ${kind} }`,
      `src/main.rs:${line}:10`,
    );
  }
  return BigInt(`0x${h}`);
}

function panic(msg: string, where: string): never {
  process.stderr.write(
    `thread 'main' panicked at '${msg}', ${where}\nnote: run with \`RUST_BACKTRACE=1\` environment variable to display a backtrace\n`,
  );
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
  return {
    type: m.type,
    target: m.target,
    ...(m.source !== undefined ? { source: m.source } : {}),
    ...(Object.keys(o).length ? { options: o } : {}),
  };
}

interface Args {
  /** gen_conf was given (the tool has no other subcommand). */
  genConf: boolean;
  userJson: string;
  userFsMac: string;
  initFsMac: string;
  outputJson: string;
  sdkXml: string;
}

const USAGE =
  'USAGE:\n    gen_internal_conf --user_json <input user json> [SUBCOMMAND]\n\nFor more information try --help';

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
    if (!known.includes(a))
      fail(`error: Found argument '${a}' which wasn't expected, or isn't valid in this context\n\n${USAGE}`, 1);
    const v = argv[i + 1];
    if (v === undefined)
      fail(`error: The argument '${a} <value>' requires a value but none was supplied\n\n${USAGE}`, 1);
    (inSub ? sub : top)[a] = v;
    i++;
  }
  if (top['--user_json'] === undefined)
    fail(
      `error: The following required arguments were not provided:\n    --user_json <input user json>\n\n${USAGE}`,
      1,
    );
  if (!existsSync(top['--user_json']))
    fail(`error: Invalid value for '--user_json <input user json>': ${top['--user_json']} is not exist`, 1);
  if (!inSub)
    return { genConf: false, userJson: top['--user_json'], userFsMac: '', initFsMac: '', outputJson: '', sdkXml: '' };
  const missing = ['--user_fs_mac', '--init_fs_mac', '--output_json', '--sdk_xml'].filter((k) => sub[k] === undefined);
  if (missing.length)
    fail(
      `error: The following required arguments were not provided:\n${missing.map((m) => `    ${m} <value>`).join('\n')}\n\n${USAGE}`,
      1,
    );
  for (const k of ['--output_json', '--sdk_xml']) {
    try {
      closeSync(openSync(sub[k]!, 'w'));
    } catch (e) {
      fail(`error: Invalid value for '${k} <value>': ${(e as Error).message}`, 1);
    }
  }
  return {
    genConf: true,
    userJson: top['--user_json'],
    userFsMac: sub['--user_fs_mac']!,
    initFsMac: sub['--init_fs_mac']!,
    outputJson: sub['--output_json']!,
    sdkXml: sub['--sdk_xml']!,
  };
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
  if (edmmEnv === undefined) panic('internal error: entered unreachable code', 'src/main.rs:131:18');
  const edmm = edmmEnv === 'YES' || c.feature.enable_edmm;
  if (!a.genConf) panic('internal error: entered unreachable code', 'src/main.rs:593:9');
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
  if (tcsInit > tcsMax)
    say(
      `init_num_of_threads: ${dbg(rl.init_num_of_threads)}, max_num_of_threads: ${rl.max_num_of_threads}, wrong configuration`,
    );
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
    say(
      `kernel_space_heap_size: ${JSON.stringify(rl.kernel_space_heap_size)}, kernel_space_heap_max_size: ${dbg(rl.kernel_space_heap_max_size)}, wrong configuration`,
    );
  }
  const userInit = parseMemorySize(rl.user_space_size);
  if (userInit === null) say(`The user_space_size "${rl.user_space_size}" is not correct.`);
  let userMaxCfg: number | undefined;
  if (rl.user_space_max_size !== undefined) {
    const v = parseMemorySize(rl.user_space_max_size);
    if (v === null) say(`The user_space_max_size "${rl.user_space_max_size}" is not correct.`);
    userMaxCfg = v!;
  }
  const userMax =
    userMaxCfg !== undefined
      ? edmm
        ? Math.max(userMaxCfg, EDMM.userSpaceMax)
        : userMaxCfg
      : edmm
        ? Math.max(userInit!, EDMM.userSpaceMax)
        : userInit!;
  if (userInit! > userMax)
    say(
      `user_space_size: ${JSON.stringify(rl.user_space_size)}, user_space_max_size: ${dbg(rl.user_space_max_size)}, wrong configuration`,
    );
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
  const kss = md.enable_kss
    ? [
        1n,
        hexId(md.ext_prod_id.high, 630),
        hexId(md.ext_prod_id.low, 632),
        hexId(md.family_id.high, 630),
        hexId(md.family_id.low, 632),
      ]
    : [0n, 0n, 0n, 0n, 0n];
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
  writeFileSync(
    a.sdkXml,
    `<EnclaveConfiguration>${xml.map(([k, v]) => `<${k}>${v}</${k}>`).join('')}</EnclaveConfiguration>`,
  );
  writeFileSync(a.outputJson, JSON.stringify(internal, null, 2));
}
