// Bundles the CLI (src/cli.ts + views/) into dist/cli.js with esbuild: one file starts much
// faster than a tree of modules or tsx, which matters for time-to-first-frame.
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;

// Ink imports react-devtools-core only when DEV=true; it is not installed, so bundle an empty
// module in its place instead of leaving an import that fails at start-up.
const noDevtools = {
  name: 'no-react-devtools',
  setup(b) {
    b.onResolve({ filter: /^react-devtools-core$/ }, () => ({ path: 'react-devtools-core', namespace: 'empty' }));
    b.onLoad({ filter: /.*/, namespace: 'empty' }, () => ({ contents: 'export default {}', loader: 'js' }));
  },
};
// jsonc-parser's "main" is a UMD build whose internal require('./impl/…') calls esbuild cannot
// follow; bundle its ESM build ("module") instead.
const jsoncEsm = {
  name: 'jsonc-parser-esm',
  setup(b) {
    b.onResolve({ filter: /^jsonc-parser$/ }, () => ({ path: root + 'node_modules/jsonc-parser/lib/esm/main.js' }));
  },
};
await build({
  entryPoints: [root + 'src/cli.ts'],
  outfile: root + 'dist/cli.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  // node-pty is a native module, loaded from node_modules at run time.
  external: ['node-pty'],
  plugins: [noDevtools, jsoncEsm],
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  },
  logLevel: 'warning',
});
