// The Occlum.json that `occlum init` writes (Occlum 0.31.0, etc/template/Occlum.json), kept as data
// so init works with no Occlum installed. Written out with 4-space indentation like the original.
import { ROOT_MOUNT } from './layout.ts';

export const OCCLUM_JSON_TEMPLATE = {
  resource_limits: {
    kernel_space_heap_size: '32MB',
    kernel_space_stack_size: '1MB',
    user_space_size: '300MB',
    max_num_of_threads: 32,
  },
  process: {
    default_stack_size: '4MB',
    default_heap_size: '32MB',
    default_mmap_size: '100MB',
  },
  entry_points: ['/bin'],
  env: {
    default: ['OCCLUM=yes'],
    untrusted: ['EXAMPLE'],
  },
  metadata: {
    product_id: 0,
    version_number: 0,
    debuggable: true,
    enable_kss: false,
    family_id: { high: '0x0', low: '0x0' },
    ext_prod_id: { high: '0x0', low: '0x0' },
  },
  feature: {
    amx: 0,
    pkru: 0,
    io_uring: 0,
    enable_edmm: false,
    enable_posix_shm: false,
  },
  mount: [ROOT_MOUNT, { target: '/host', type: 'hostfs', source: '.' }],
} as const;

/** The template file's exact text (byte-identical to Occlum's: 4 spaces, trailing newline). */
export function occlumJsonTemplateText(): string {
  return JSON.stringify(OCCLUM_JSON_TEMPLATE, null, 4) + '\n';
}
