// Sizing: measure a program on the host backend, recommend Occlum.json sizes, apply them.
export { measureRun, DEFAULT_INTERVAL_MS, SizingStopped, type MeasureOptions } from './measure.ts';
export { sizeProgram, type SizeProgramOptions } from './size-program.ts';
export {
  recommend,
  jvmMeasureHeap,
  userSpaceNeed,
  edmmOn,
  MEMORY_MARGIN,
  THREAD_MARGIN,
  TOO_LARGE_FACTOR,
} from './recommend.ts';
export { applyRecommendation, recommendationOps, formatField } from './apply.ts';
export { targetVersion } from './target.ts';
export type { Measurement, Recommendation, FieldRecommendation, Verdict } from './types.ts';
export { formatMeasurement } from './report.ts';
export { SIZING_FIELDS, isSizingHint } from './fields.ts';
