// occlum-studio TEST DOUBLE helper: the double's "sefs-cli zip" — packs a directory into a real
// Occlum SEFS image with the project's secure-FS engine, so readers of build/mount and
// build/initfs see the same format as with a real Occlum.
// Usage: node --import tsx test/occlum-double/pack.ts <src> <out __ROOT> <.ROOT_MAC file> [image key file]
import { packImage, readImageKeyFile, type KeyMode } from '../../src/core/securefs/index.ts';

const [src, outRoot, macFile, keyFile] = process.argv.slice(2);
if (!src || !outRoot || !macFile) {
  console.error('usage: pack.ts <src> <outRoot> <macFile> [keyFile]');
  process.exit(2);
}
const key: KeyMode = keyFile ? readImageKeyFile(keyFile) : { kind: 'integrity-only' };
packImage({ src, outRoot, macFile, key }).then(
  () => console.log('Generate the SEFS image successfully'),
  (err: Error) => {
    console.error(`[-] ${err.message}`);
    process.exit(1);
  },
);
