// OCCLUM_LOG_LEVEL semantics [src/libos/src/entry.rs parse_log_level, config.rs]: which LibOS
// lines a run will print, from the environment value and the instance's metadata.
import { LEVEL_RANK, type Level } from './types.ts';

export type LogLevelSetting = Level | 'off';

/** Values accepted by the UI / CLI, least to most verbose. */
export const LOG_LEVEL_SETTINGS: readonly LogLevelSetting[] = ['off', 'error', 'warn', 'info', 'debug', 'trace'];

const ALIASES: Record<string, LogLevelSetting> = {
  off: 'off',
  panic: 'error',
  fatal: 'error',
  error: 'error',
  warning: 'warn',
  warn: 'warn',
  info: 'info',
  debug: 'debug',
  trace: 'trace',
};

/** Case-insensitive; unset, empty or unknown → off (as the LibOS does). */
export function parseLogLevel(value: string | undefined | null): LogLevelSetting {
  if (value === undefined || value === null) return 'off';
  return ALIASES[value.trim().toLowerCase()] ?? 'off';
}

/** Like parseLogLevel but says whether the value was recognised (for a warning in the UI). */
export function checkLogLevel(value: string): { level: LogLevelSetting; known: boolean } {
  const level = ALIASES[value.trim().toLowerCase()];
  return level ? { level, known: true } : { level: 'off', known: false };
}

export interface EffectiveLevelInput {
  /** OCCLUM_LOG_LEVEL as set in the environment of `occlum run` / `occlum start`. */
  env: string | undefined | null;
  /** metadata.debuggable (Occlum.json); default true. */
  debuggable?: boolean;
  /** metadata.disable_log; when absent: false if debuggable, true if not (since 0.30.1). */
  disableLog?: boolean;
}

export interface EffectiveLevel {
  level: LogLevelSetting;
  /** Why the level differs from the requested one, if it does. */
  reason?: string;
  /** A release enclave with logging enabled prints `Warnning: Occlum Log is enabled …` at boot. */
  releaseWarning: boolean;
}

/** The level the LibOS will actually log at for one run. */
export function effectiveLogLevel(input: EffectiveLevelInput): EffectiveLevel {
  const requested = parseLogLevel(input.env);
  const debuggable = input.debuggable ?? true;
  if (debuggable) return { level: requested, releaseWarning: false };
  const disableLog = input.disableLog ?? true;
  if (disableLog) {
    return {
      level: 'off',
      reason: requested === 'off' ? undefined : 'release enclave with metadata.disable_log: logging is off',
      releaseWarning: false,
    };
  }
  if (requested !== 'off' && LEVEL_RANK[requested] > LEVEL_RANK.error) {
    return { level: 'error', reason: 'release enclave: the level is capped at error', releaseWarning: true };
  }
  return { level: requested, releaseWarning: true };
}

/** Would a line of this level be printed at this setting? */
export function levelEnabled(setting: LogLevelSetting, level: Level): boolean {
  return setting !== 'off' && LEVEL_RANK[level] <= LEVEL_RANK[setting];
}
