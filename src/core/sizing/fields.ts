// The Occlum.json fields a sizing run recommends: log hints about them offer "size the program".
import type { LogHint } from '../logs/hints.ts';

export const SIZING_FIELDS = [
  'resource_limits.user_space_size',
  'resource_limits.user_space_max_size',
  'resource_limits.kernel_space_heap_size',
  'resource_limits.kernel_space_heap_max_size',
  'resource_limits.kernel_space_stack_size',
  'resource_limits.max_num_of_threads',
  'process.default_heap_size',
  'process.default_mmap_size',
  'process.default_stack_size',
];

export const isSizingHint = (h: LogHint): boolean =>
  h.configPath !== null && SIZING_FIELDS.includes(h.configPath.join('.'));
