// A sizing run as `size` and the panes' `z` make it. A `java` launcher without a maximum heap is
// measured with the heap it takes in Occlum under the current config (jvm.ts); under the
// template's 300MB that is 68MB, while the recommendation (a Debian JVM maps ~2.5 GB besides its
// heap) gives it ~1 GB: a program that needs more than 68MB of heap failed the measurement with
// "OutOfMemoryError: Java heap space" (or hung, when a worker thread took the error). So the
// JVM runs with -XX:+ExitOnOutOfMemoryError, and a failed run is measured once more with the
// heap the recommended config gives it.
import type { HostBackend } from '../backend/host/index.ts';
import type { VersionId } from '../config/versions.ts';
import { applyRecommendation } from './apply.ts';
import { measureRun, type MeasureOptions } from './measure.ts';
import { jvmMeasureHeap, recommend } from './recommend.ts';
import type { Measurement } from './types.ts';

export interface SizeProgramOptions extends Omit<MeasureOptions, 'jvmMaxHeap'> {
  /** Told before a JVM is measured again: the heap it failed with and the one it gets now. */
  onJvmRetry?: (failedHeap: number, status: number, nextHeap: number) => void;
}

export async function sizeProgram(
  backend: HostBackend,
  path: string,
  args: string[],
  configText: string,
  version: VersionId,
  opts: SizeProgramOptions = {},
): Promise<Measurement> {
  const heap = jvmMeasureHeap(path, args, configText, version);
  const first = await measureRun(backend, path, args, { ...opts, ...(heap ? { jvmMaxHeap: heap } : {}) });
  // 128 + n: stopped by a signal (Ctrl-C), not a failure a larger heap could change.
  if (heap === null || first.status === 0 || first.status >= 128 || first.stoppedBy) return first;
  const then = applyRecommendation(configText, recommend(first, configText, version));
  const next = jvmMeasureHeap(path, args, then, version);
  if (next === null || next <= heap) return first;
  opts.onJvmRetry?.(heap, first.status, next);
  const second = await measureRun(backend, path, args, { ...opts, jvmMaxHeap: next });
  return { ...second, jvmFirstRun: { maxHeap: heap, status: first.status } };
}
