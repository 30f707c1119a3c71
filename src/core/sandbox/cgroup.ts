// Per-run control groups for the sandbox: a pids cgroup caps the tasks (threads of every
// process) like Occlum's TCS count, a memory cgroup caps what the whole process tree holds, and
// both keep kernel peaks (pids.peak, memory.peak / max_usage_in_bytes) that `size` reads.
// cgroup v2 and v1 hierarchies are both handled: the machine decides which one holds each
// controller. Without a writable hierarchy the caller falls back (rlimits, /proc sampling).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type Controller = 'memory' | 'pids';

interface Hierarchy {
  version: 1 | 2;
  /** Directory of this process's own cgroup in that hierarchy: new groups are made under it. */
  base: string;
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
      for (const c of ['memory', 'pids'] as const) {
        if (!opts.includes(c) || out[c]) continue;
        const key = [...paths.keys()].find((k) => k.split(',').includes(c));
        if (key !== undefined) out[c] = { version: 1, base: join(mountPoint, paths.get(key)!) };
      }
    } else if (fstype === 'cgroup2') {
      const rel = paths.get('');
      if (rel === undefined) continue;
      const base = join(mountPoint, rel);
      let controllers: string[] = [];
      try {
        controllers = readFileSync(join(base, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
      } catch {
        continue;
      }
      for (const c of ['memory', 'pids'] as const) if (!out[c] && controllers.includes(c)) out[c] = { version: 2, base };
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
  1: { pidsMax: 'pids.max', pidsPeak: 'pids.peak', memMax: 'memory.limit_in_bytes', memPeak: 'memory.max_usage_in_bytes' },
  2: { pidsMax: 'pids.max', pidsPeak: 'pids.peak', memMax: 'memory.max', memPeak: 'memory.peak' },
} as const;

const PREFIX = 'occlum-studio-';
let serial = 0;

/** A fresh group name: the studio's pid (for the sweep) and a counter. */
export function runCgroupName(): string {
  return `${PREFIX}${process.pid}-${++serial}`;
}

/** Removes groups left by studio processes that died before cleaning up (empty ones only). */
function sweep(base: string): void {
  let names: string[] = [];
  try {
    names = readdirSync(base).filter((n) => n.startsWith(PREFIX));
  } catch {
    return;
  }
  for (const n of names) {
    const owner = Number(n.slice(PREFIX.length).split('-')[0]);
    if (!Number.isInteger(owner) || existsSync(`/proc/${owner}`)) continue;
    try {
      rmdirSync(join(base, n));
    } catch {
      /* still holds processes */
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
  static create(name: string, want: Controller[] = ['memory', 'pids']): RunCgroup {
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
          if (!sub.split(/\s+/).includes(c)) writeFileSync(join(h.base, 'cgroup.subtree_control'), `+${c}`);
        }
        if (!made.has(dir)) mkdirSync(dir, { recursive: true });
        made.add(dir);
        if (!existsSync(join(dir, c === 'pids' ? 'pids.max' : FILES[h.version].memMax))) continue;
        dirs[c] = { dir, version: h.version };
      } catch {
        // Not delegated to us (read-only, no permission, v2 internal-process rule): skip it.
      }
    }
    return new RunCgroup(dirs);
  }

  /** Opens an existing group by name (a server's, from its exec). */
  static open(name: string): RunCgroup {
    const dirs: Partial<Record<Controller, { dir: string; version: 1 | 2 }>> = {};
    for (const c of ['memory', 'pids'] as const) {
      const h = hierarchies()[c];
      if (h && existsSync(join(h.base, name))) dirs[c] = { dir: join(h.base, name), version: h.version };
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

  /** Kernel-kept high-water marks: tasks at once, and bytes charged at once. */
  peaks(): { tasks: number | null; memory: number | null } {
    const read = (c: Controller, file: 'pidsPeak' | 'memPeak') => {
      const d = this.dirs[c];
      if (!d) return null;
      try {
        const n = Number(readFileSync(join(d.dir, FILES[d.version][file]), 'utf8').trim());
        return Number.isFinite(n) ? n : null;
      } catch {
        return null;
      }
    };
    return { tasks: read('pids', 'pidsPeak'), memory: read('memory', 'memPeak') };
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
    return { tasksRefused: count('pids', 'pids.events', 'max'), oomKills: count('memory', memFile, 'oom_kill') };
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
   * Removes the group once its processes are gone: rmdir fails with EBUSY while a dying task
   * remains, so it is retried for a second in the background (then left to the next sweep).
   */
  remove(tries = 20): void {
    const left = [...new Set(Object.values(this.dirs).map((x) => x.dir))].filter((d) => {
      try {
        rmdirSync(d);
        return false;
      } catch (err) {
        return (err as NodeJS.ErrnoException).code === 'EBUSY';
      }
    });
    if (left.length && tries > 0) setTimeout(() => this.remove(tries - 1), 50).unref();
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
