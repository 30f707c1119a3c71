// Bundles the CLI (src/cli.ts + views/) into dist/cli.js with esbuild: one file starts much
// faster than a tree of modules or tsx, which matters for time-to-first-frame.
import { rmSync } from 'node:fs';
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
// --clean (prepack): start from an empty dist/, so no chunk of an earlier build is packed. Not the
// default: tests rebuild dist/ while other test processes run the CLI from it.
if (process.argv.includes('--clean')) rmSync(root + 'dist', { recursive: true, force: true });
await build({
  entryPoints: [root + 'src/cli.ts'],
  // Code splitting: subcommands and the TUI load as separate chunks on first use, so neither
  // path compiles the other's code at start-up.
  outdir: root + 'dist',
  entryNames: '[name]',
  chunkNames: 'chunks/[name]-[hash]',
  splitting: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  // node-pty is a native module, loaded from node_modules at run time.
  external: ['node-pty'],
  plugins: [noDevtools, jsoncEsm],
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; var require = __cr(import.meta.url);",
  },
  // React's production build: no development checks in the render loop, a smaller bundle to
  // compile at start-up (time to first frame).
  define: { 'process.env.NODE_ENV': '"production"' },
  minifySyntax: true,
  minifyWhitespace: true,
  logLevel: 'warning',
});
