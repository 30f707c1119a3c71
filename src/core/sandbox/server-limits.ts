// Limits of a server's programs (start / exec). Processes exec'ed into one Occlum instance share
// its enclave: max_num_of_threads (TCSs) and the user space cap all of them together. The
// server's group holds the namespace holder in one subgroup and each exec in its own; the
// group's task cap counts the launcher tasks of the holder and of every exec in flight, so the
// programs together get exactly max_num_of_threads (docs/backends.md, Resource limits).
import { isRunCgroupName, RunCgroup, runCgroupName } from './cgroup.ts';
import type { RuntimeConfig } from './runtime-config.ts';
import { treeLimitsFor } from './tree-limits.ts';

/** Tasks of the holder's subgroup: unshare and the holder (`sleep infinity`, PID 1 of the server). */
export const SERVER_HOLDER_TASKS = 2;
/** Tasks of an exec's subgroup that are not the program's: nsenter (it forks to enter the PID
 * namespace) and bwrap's monitor (no init: the server's PID namespace is shared). */
export const EXEC_LAUNCHER_TASKS = 2;

const HOLDER_TAG = 'holder';

export interface ServerLimits {
  /** The server's group name, kept in server.json for exec and stop. */
  name: string;
  /** cgroup.procs files the server's launcher joins. */
  holderProcs: string[];
  /** What was capped (null: not enforceable on this machine). */
  tasks: number | null;
  memory: number | null;
}

/** Makes a server's group with the memory cap of its config; the task cap follows the execs. */
export function createServerLimits(cfg: RuntimeConfig): ServerLimits {
  const name = runCgroupName();
  const group = RunCgroup.create(name, ['memory', 'pids']);
  const holder = group.child(runCgroupName(HOLDER_TAG));
  const limits = treeLimitsFor(cfg);
  const memory = limits.memory !== null && group.setMemoryLimit(limits.memory) ? limits.memory : null;
  const tasks = capTasks(group, cfg);
  return { name, holderProcs: holder.procsFiles(), tasks, memory };
}

/**
 * Sets the server group's task cap from the execs in flight (their subgroups). Computed from
 * what exists rather than counted up and down, so concurrent execs of other studio processes
 * converge: each one recomputes after its own change, and once more if the count moved meanwhile.
 */
function capTasks(group: RunCgroup, cfg: RuntimeConfig): number | null {
  const n = cfg.limits.maxThreads;
  if (n === null || n < 1 || !group.has('pids')) return null;
  const cap = () => n + SERVER_HOLDER_TASKS + EXEC_LAUNCHER_TASKS * execCount(group);
  let value = cap();
  for (let i = 0; i < 3; i++) {
    if (!group.setTaskLimit(value)) return null;
    const again = cap();
    if (again === value) break;
    value = again;
  }
  return n;
}

const execCount = (group: RunCgroup): number => group.children().filter((c) => !c.endsWith(`-${HOLDER_TAG}`)).length;

/** An exec's own subgroup of the server's group, and how to give its place back when it ends. */
export interface ExecLimits {
  group: RunCgroup;
  /** max_num_of_threads enforced for all the server's programs together (null: not enforced). */
  tasks: number | null;
  end(): void;
}

/** The exec's subgroup under the server's (null when the server has no group: an older start). */
export function beginExecLimits(serverGroup: unknown, cfg: RuntimeConfig): ExecLimits | null {
  if (!isRunCgroupName(serverGroup)) return null;
  const server = RunCgroup.open(serverGroup);
  if (!server.has('pids') && !server.has('memory')) return null;
  server.sweepChildren();
  const group = server.child(runCgroupName());
  const tasks = capTasks(server, cfg);
  return {
    group,
    tasks,
    end() {
      group.remove();
      capTasks(server, cfg);
    },
  };
}

/** Removes a stopped server's group and its subgroups. */
export function removeServerLimits(serverGroup: unknown): void {
  if (isRunCgroupName(serverGroup)) RunCgroup.open(serverGroup).remove();
}
