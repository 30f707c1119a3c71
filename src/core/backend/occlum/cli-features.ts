// CLI features that appeared in later Occlum releases (spec 2.7 history table), so an older
// install gets "needs Occlum ≥ X (this is Y)" instead of `Error: Unknown option` or a hang.
export type CliFeature = 'config-id' | 'print' | 'enable-edmm' | 'init-ra';

const SINCE: Record<CliFeature, [number, number, number]> = {
  'config-id': [0, 26, 3],
  print: [0, 29, 1],
  'enable-edmm': [0, 30, 0],
  'init-ra': [0, 30, 0],
};

const LABEL: Record<CliFeature, string> = {
  'config-id': 'occlum run/start --config-id/--config-svn',
  print: 'occlum print mrenclave|mrsigner',
  'enable-edmm': 'occlum build --enable-edmm',
  'init-ra': 'occlum new/init --init-ra',
};

function parse(v: string): [number, number, number] | null {
  const m = v.match(/^(\d+)\.(\d+)\.(\d+)/);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

/** null when the feature is available (or the version is unknown: let Occlum decide), else why not. */
export function missingFeature(version: string | null, feature: CliFeature): string | null {
  const have = version ? parse(version) : null;
  if (!have) return null;
  const need = SINCE[feature];
  for (let i = 0; i < 3; i++) {
    if (have[i]! > need[i]!) return null;
    if (have[i]! < need[i]!)
      return `${LABEL[feature]} needs Occlum ${need.join('.')} or later; this install is ${version}`;
  }
  return null;
}
