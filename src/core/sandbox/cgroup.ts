// Per-run control groups for the sandbox: a pids cgroup caps the tasks (threads of every
// process) like Occlum's TCS count, a memory cgroup caps what the whole process tree holds, and
// both keep kernel peaks (pids.peak, memory.peak / max_usage_in_bytes) that `size` reads.
// cgroup v2 and v1 hierarchies are both handled: the machine decides which one holds each
// controller. Without a writable hierarchy the caller falls back (rlimits, /proc sampling).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type Controller = 'memory' | 'pids' | 'cpuacct';
const CONTROLLERS: Controller[] = ['memory', 'pids', 'cpuacct'];
/** cgroup v2 has no cpuacct: CPU time is in every group's cpu.stat, with the cpu controller. */
const V2_NAME: Record<Controller, string> = { memory: 'memory', pids: 'pids', cpuacct: 'cpu' };

interface Hierarchy {
  version: 1 | 2;
  /** Directory of this process's own cgroup in that hierarchy: new groups are made under it. */
  base: string;
  /** Where the hierarchy is mounted. */
  root: string;
}

/** Mount points of cgroup hierarchies and this process's place in each. */
function findHierarchies(): Partial<Record<Controller, Hierarchy>> {
  let mountinfo: string;
  let own: string;
  try {
    mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
    own = readFileSync('/proc/self/cgroup', 'utf8');
  } catch {
    return {};
  }
  // /proc/self/cgroup: "id:controllers:path"; v2 is "0::path".
  const paths = new Map<string, string>();
  for (const line of own.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (m) paths.set(m[2] === '' ? '' : m[2]!, m[3]!);
  }
  const out: Partial<Record<Controller, Hierarchy>> = {};
  for (const line of mountinfo.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const [fstype, , superOpts = ''] = post.split(' ');
    const mountPoint = pre.split(' ')[4];
    if (!mountPoint) continue;
    if (fstype === 'cgroup') {
      const opts = superOpts.split(',');
      for (const c of CONTROLLERS) {
        if (!opts.includes(c) || out[c]) continue;
        const key = [...paths.keys()].find((k) => k.split(',').includes(c));
        if (key !== undefined) out[c] = { version: 1, base: join(mountPoint, paths.get(key)!), root: mountPoint };
      }
    } else if (fstype === 'cgroup2') {
      const rel = paths.get('');
      if (rel === undefined) continue;
      const base = join(mountPoint, rel);
      let controllers: string[];
      try {
        controllers = readFileSync(join(base, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
      } catch {
        continue;
      }
      for (const c of CONTROLLERS) {
        if (!out[c] && controllers.includes(V2_NAME[c])) out[c] = { version: 2, base, root: mountPoint };
      }
    }
  }
  return out;
}

let cached: Partial<Record<Controller, Hierarchy>> | undefined;

function hierarchies(): Partial<Record<Controller, Hierarchy>> {
  cached ??= findHierarchies();
  return cached;
}

const FILES = {
  1: {
    pidsMax: 'pids.max',
    pidsPeak: 'pids.peak',
    memMax: 'memory.limit_in_bytes',
    memPeak: 'memory.max_usage_in_bytes',
    cpu: 'cpuacct.stat',
  },
  2: { pidsMax: 'pids.max', pidsPeak: 'pids.peak', memMax: 'memory.max', memPeak: 'memory.peak', cpu: 'cpu.stat' },
} as const;

/** A file that exists only when the controller really is on in the group. */
const probeFile = (c: Controller, v: 1 | 2): string =>
  c === 'pids' ? FILES[v].pidsMax : c === 'memory' ? FILES[v].memMax : FILES[v].cpu;

/** A kernel-kept counter's value and the file it came from. */
export interface Peak {
  value: number;
  source: string;
}

/** What the tree used in all, from its group: like an exit rusage, but over every process. */
export interface TreeUsage {
  userMs: number | null;
  sysMs: number | null;
  minorFaults: number | null;
  majorFaults: number | null;
}

/** "key value" lines of a cgroup stat file. */
function statFile(file: string): Map<string, number> {
  const m = new Map<string, number>();
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const [k, v] = line.split(' ');
      if (k && v !== undefined) m.set(k, Number(v));
    }
  } catch {
    /* no such file: nothing */
  }
  return m;
}

const PREFIX = 'occlum-studio-';
let serial = 0;

/** A fresh group name: the studio's pid (for the sweep) and a counter, or `tag`. */
export function runCgroupName(tag?: string): string {
  return `${PREFIX}${process.pid}-${tag ?? ++serial}`;
}

/** Whether `name` is one runCgroupName() made (a name read from a file is checked with this). */
export function isRunCgroupName(name: unknown): name is string {
  return typeof name === 'string' && /^occlum-studio-\d+-(\d+|[a-z]+)$/.test(name);
}

/** Subgroups of `dir` that the studio made. */
function studioGroups(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => n.startsWith(PREFIX));
  } catch {
    return [];
  }
}

/**
 * Removes groups left by studio processes that died before cleaning up (empty ones only), and
 * their subgroups first: a server's group outlives the `start` that made it.
 */
function sweep(base: string): void {
  for (const n of studioGroups(base)) {
    const owner = Number(n.slice(PREFIX.length).split('-')[0]);
    if (!Number.isInteger(owner) || existsSync(`/proc/${owner}`)) continue;
    sweep(join(base, n));
    try {
      rmdirSync(join(base, n));
    } catch {
      /* still holds processes */
    }
  }
}

/** A group named `name` anywhere in a hierarchy (breadth first, a bounded walk). */
function findGroup(root: string, name: string): string | null {
  let level = [root];
  let seen = 0;
  for (let depth = 0; depth < 6 && level.length > 0 && seen < 5000; depth++) {
    const next: string[] = [];
    for (const dir of level) {
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const e of entries) {
        if (!e.isDirectory()) continue;
        if (e.name === name) return join(dir, name);
        next.push(join(dir, e.name));
        seen++;
      }
    }
    level = next;
  }
  return null;
}

/** rmdir of a group, retried briefly while exiting tasks are torn down (EBUSY). */
function removeDir(dir: string): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let tries = 0; tries < 40; tries++) {
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EBUSY') return;
      Atomics.wait(pause, 0, 0, 5);
    }
  }
}

/** A control group made for one run (or one server), in every hierarchy that allowed it. */
export class RunCgroup {
  private constructor(private readonly dirs: Partial<Record<Controller, { dir: string; version: 1 | 2 }>>) {}

  /**
   * Makes `name` under this process's own cgroup for each controller whose hierarchy is
   * writable. v2 needs the controller in the parent's subtree_control; enabling it fails in a
   * cgroup that itself holds processes, and then that controller is simply not used.
   */
  static create(name: string, want: Controller[] = CONTROLLERS): RunCgroup {
    const dirs: Partial<Record<Controller, { dir: string; version: 1 | 2 }>> = {};
    const made = new Set<string>();
    for (const c of want) {
      const h = hierarchies()[c];
      if (!h) continue;
      const dir = join(h.base, name);
      sweep(h.base);
      try {
        if (h.version === 2) {
          const sub = readFileSync(join(h.base, 'cgroup.subtree_control'), 'utf8');
          const file = join(h.base, 'cgroup.subtree_control');
          if (!sub.split(/\s+/).includes(V2_NAME[c])) writeFileSync(file, `+${V2_NAME[c]}`);
        }
        if (!made.has(dir)) mkdirSync(dir, { recursive: true });
        made.add(dir);
        if (!existsSync(join(dir, probeFile(c, h.version)))) continue;
        dirs[c] = { dir, version: h.version };
      } catch {
        // Not delegated to us (read-only, no permission, v2 internal-process rule): skip it.
      }
    }
    return new RunCgroup(dirs);
  }

  /**
   * Opens an existing group by name (a server's, from its exec and stop): under this process's
   * own cgroup, or, when the server was started from another one (a shell in another session),
   * found in the hierarchy.
   */
  static open(name: string): RunCgroup {
    const dirs: Partial<Record<Controller, { dir: string; version: 1 | 2 }>> = {};
    for (const c of CONTROLLERS) {
      const h = hierarchies()[c];
      if (!h) continue;
      const dir = existsSync(join(h.base, name)) ? join(h.base, name) : findGroup(h.root, name);
      if (dir) dirs[c] = { dir, version: h.version };
    }
    return new RunCgroup(dirs);
  }

  has(c: Controller): boolean {
    return this.dirs[c] !== undefined;
  }

  /** The cgroup.procs files a launcher writes its own pid to before it starts the sandbox. */
  procsFiles(): string[] {
    return [...new Set(Object.values(this.dirs).map((d) => join(d.dir, 'cgroup.procs')))];
  }

  /** Caps the tasks (threads of all processes) of the group; clone() beyond it fails with EAGAIN. */
  setTaskLimit(n: number): boolean {
    const d = this.dirs.pids;
    return d ? this.write(join(d.dir, FILES[d.version].pidsMax), String(n)) : false;
  }

  /** Caps the memory the group's processes hold (anonymous, tmpfs, page cache) in bytes. */
  setMemoryLimit(bytes: number): boolean {
    const d = this.dirs.memory;
    return d ? this.write(join(d.dir, FILES[d.version].memMax), String(bytes)) : false;
  }

  /**
   * Kernel-kept high-water marks: tasks at once, and bytes charged at once, each with the file
   * it came from ("cgroup v1 pids.peak"); null where the machine keeps no such counter.
   */
  peaks(): { tasks: Peak | null; memory: Peak | null } {
    const read = (c: Controller, file: 'pidsPeak' | 'memPeak'): Peak | null => {
      const d = this.dirs[c];
      if (!d) return null;
      const name = FILES[d.version][file];
      try {
        const n = Number(readFileSync(join(d.dir, name), 'utf8').trim());
        return Number.isFinite(n) ? { value: n, source: `cgroup v${d.version} ${name}` } : null;
      } catch {
        return null;
      }
    };
    return { tasks: read('pids', 'pidsPeak'), memory: read('memory', 'memPeak') };
  }

  /** Where usage() reads from, in words (null without a cpuacct or memory group). */
  usageSource(): string | null {
    const cpu = this.dirs.cpuacct;
    const mem = this.dirs.memory;
    const files = [
      ...(cpu ? [`v${cpu.version} ${FILES[cpu.version].cpu}`] : []),
      ...(mem ? [`v${mem.version} memory.stat`] : []),
    ];
    return files.length ? `cgroup ${files.join(' + ')}` : null;
  }

  /** Limits the group hit: task creations refused at pids.max, processes killed by the memory cap. */
  events(): { tasksRefused: number; oomKills: number } {
    const count = (c: Controller, file: string, key: string) => {
      const d = this.dirs[c];
      if (!d) return 0;
      try {
        const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(readFileSync(join(d.dir, file), 'utf8'));
        return m ? Number(m[1]) : 0;
      } catch {
        return 0;
      }
    };
    const memFile = this.dirs.memory?.version === 2 ? 'memory.events' : 'memory.oom_control';
    // A refusal is counted in the forking task's group (v1), or in the limiting one and, as
    // pids.events.local, in the forking one (v2 since Linux 6.12): a subgroup reads both.
    const refused = Math.max(count('pids', 'pids.events', 'max'), count('pids', 'pids.events.local', 'max'));
    return { tasksRefused: refused, oomKills: count('memory', memFile, 'oom_kill') };
  }

  /** CPU time and page faults of every process the group ever held (read after the run). */
  usage(): TreeUsage {
    const cpu = this.dirs.cpuacct;
    const mem = this.dirs.memory;
    const c = cpu ? statFile(join(cpu.dir, FILES[cpu.version].cpu)) : new Map<string, number>();
    const m = mem ? statFile(join(mem.dir, 'memory.stat')) : new Map<string, number>();
    // v1 cpuacct.stat counts USER_HZ ticks (100 per second on Linux); v2 cpu.stat microseconds.
    const ms = (v1: string, v2: string) =>
      cpu?.version === 1 ? (c.has(v1) ? c.get(v1)! * 10 : null) : c.has(v2) ? c.get(v2)! / 1000 : null;
    const faults = (k: string) => m.get(`total_${k}`) ?? m.get(k) ?? null;
    return {
      userMs: ms('user', 'user_usec'),
      sysMs: ms('system', 'system_usec'),
      minorFaults: faults('pgfault'),
      majorFaults: faults('pgmajfault'),
    };
  }

  /** Pids of the processes in the group (the sandbox's launcher chain and the program tree). */
  pids(): number[] {
    const d = this.dirs.pids ?? this.dirs.memory;
    if (!d) return [];
    try {
      return readFileSync(join(d.dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  }

  /**
   * Removes the group once its processes are gone. rmdir fails with EBUSY while an exiting task
   * is still being torn down (a few ms after the run ended): retried briefly in place, then left
   * to the next run's sweep.
   */
  remove(): void {
    const rm = (dir: string): void => {
      for (const n of studioGroups(dir)) rm(join(dir, n));
      removeDir(dir);
    };
    for (const d of new Set(Object.values(this.dirs).map((x) => x.dir))) rm(d);
  }

  /**
   * A subgroup in each of this group's hierarchies: this group's limits count its tasks too
   * (both controllers are hierarchical). v2 needs the controllers in this group's subtree_control,
   * which is why a group with subgroups must hold no processes itself.
   */
  child(name: string): RunCgroup {
    const dirs: Partial<Record<Controller, { dir: string; version: 1 | 2 }>> = {};
    for (const c of CONTROLLERS) {
      const d = this.dirs[c];
      if (!d) continue;
      try {
        if (d.version === 2) this.write(join(d.dir, 'cgroup.subtree_control'), `+${V2_NAME[c]}`);
        mkdirSync(join(d.dir, name), { recursive: true });
        if (existsSync(join(d.dir, name, probeFile(c, d.version))))
          dirs[c] = { dir: join(d.dir, name), version: d.version };
      } catch {
        /* not allowed here: that controller is not used */
      }
    }
    return new RunCgroup(dirs);
  }

  /** Removes subgroups left by studio processes that died before cleaning up. */
  sweepChildren(): void {
    for (const d of new Set(Object.values(this.dirs).map((x) => x.dir))) sweep(d);
  }

  /** Names of the studio's subgroups (as made by child()). */
  children(): string[] {
    const d = this.dirs.pids ?? this.dirs.memory;
    return d ? studioGroups(d.dir) : [];
  }

  private write(file: string, value: string): boolean {
    try {
      writeFileSync(file, value);
      return true;
    } catch {
      return false;
    }
  }
}
