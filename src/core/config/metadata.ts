// The SGX identity an instance's config declares in `metadata` (product_id, version_number,
// debuggable): the defaults of the SGX-simulation key a run layer is read with offline.
import { instancePaths } from '../instance/layout.ts';
import { readConfigText, readGeneratedText } from '../instance/safe-read.ts';

export interface ConfigMetadata {
  productId?: number;
  isvSvn?: number;
  debuggable?: boolean;
}

/**
 * The `metadata` of the instance's Occlum.json; with `generatedFirst`, of the config an older
 * Occlum's build generated (build/Occlum.json) when that one reads. Empty when none reads (missing,
 * or not plain JSON): the caller's defaults apply.
 */
export function readInstanceMetadata(dir: string, opts: { generatedFirst?: boolean } = {}): ConfigMetadata {
  const p = instancePaths(dir);
  const sources: [string, string, boolean][] = [
    ...(opts.generatedFirst ? [[p.buildOcclumJson, 'build/Occlum.json', true] as [string, string, boolean]] : []),
    [p.config, 'Occlum.json', false],
  ];
  for (const [file, what, generated] of sources) {
    try {
      const j = JSON.parse(generated ? readGeneratedText(file, what) : readConfigText(file, what)) as {
        metadata?: { product_id?: number; version_number?: number; debuggable?: boolean };
      };
      const m = j.metadata ?? {};
      return { productId: m.product_id, isvSvn: m.version_number, debuggable: m.debuggable };
    } catch {
      // Missing or not plain JSON: the next one, else the defaults.
    }
  }
  return {};
}
