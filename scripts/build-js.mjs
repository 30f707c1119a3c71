// Bundles the CLI (src/cli.ts + views/) into dist/cli.js with esbuild: one file starts much
// faster than a tree of modules or tsx, which matters for time-to-first-frame.
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
await build({
  entryPoints: [root + 'src/cli.ts'],
  outfile: root + 'dist/cli.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  // node-pty is a native module; react-devtools-core is an optional Ink dev dependency.
  external: ['node-pty', 'react-devtools-core'],
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  },
  logLevel: 'warning',
});
