// Packs a copy of node-pty with its binding for the prebuilt target (linux-x64-gnu) into
// native/node-pty/ (prepack). npm compiles node-pty at install (node-gyp: a compiler, python3 and
// Node's headers); where that fails, npm drops the optional dependency altogether, and the Run pane
// would fall back to pipes. The studio then loads this copy instead (src/core/pty/session.ts): its
// JavaScript (lib/, tests and maps left out), package.json, licence and build/Release/pty.node,
// where node-pty's own loader looks. The binding uses Node-API, so one build serves every Node.
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { nativeTarget, PREBUILT_TARGET } from '../native/target.mjs';

const root = new URL('..', import.meta.url).pathname;
const out = join(root, 'native', 'node-pty');
const fail = (why) => {
  console.error(`ship-pty: ${why}`);
  process.exit(1);
};

if (nativeTarget() !== PREBUILT_TARGET)
  fail(`this machine is ${nativeTarget()}; the package carries ${PREBUILT_TARGET}`);
let src;
try {
  src = dirname(createRequire(join(root, 'package.json')).resolve('node-pty/package.json'));
} catch {
  fail('node-pty is not installed (npm ci installs it)');
}
const binding = join(src, 'build', 'Release', 'pty.node');
if (!existsSync(binding))
  fail(
    `${binding} is missing: node-pty was not compiled (apt-get install build-essential python3; npm rebuild node-pty)`,
  );

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'build', 'Release'), { recursive: true });
cpSync(binding, join(out, 'build', 'Release', 'pty.node'));
for (const f of ['package.json', 'LICENSE']) cpSync(join(src, f), join(out, f));
cpSync(join(src, 'lib'), join(out, 'lib'), {
  recursive: true,
  filter: (p) => !/\.(test\.js|map)$/.test(p) && !p.endsWith('testUtils.test.js'),
});
const count = (d) => readdirSync(d, { recursive: true }).length;
console.log(
  `ship-pty: node-pty ${createRequire(import.meta.url)(join(out, 'package.json')).version} in native/node-pty (${count(out)} entries)`,
);
