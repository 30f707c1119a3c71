// Where things live in an Occlum instance directory (Occlum 0.31 layout, spec 1.4), plus the
// host backend's own files, which stay inside build/ and run/ so `occlum build` semantics
// (wipe run/, replace build/) carry over.
import { join } from 'node:path';

export const STATUS_FILE = '.__occlum_status';

export interface InstancePaths {
  dir: string;
  config: string;
  status: string;
  sgxMode: string;
  image: string;
  initfs: string;
  build: string;
  /** build/mount/__ROOT: the SEFS image of image/. */
  buildRoot: string;
  rootMac: string;
  sysJson: string;
  sysJsonProtected: string;
  imageConfig: string;
  run: string;
  runRoot: string;
  runInitfsRoot: string;
  /** Host backend: files of the last good build beyond Occlum's own (see docs/backends.md). */
  hostBuild: string;
  /** Host backend: the plain image layer the sandbox mounts read-only as the lower layer. */
  hostRootfs: string;
  /** Host backend: content manifest of hostRootfs, pinned by the protected config. */
  hostManifest: string;
  /** Host backend: the writable run layer (overlay upper dir), persists across runs. */
  hostUpper: string;
  hostWork: string;
  /** Host backend: directories backing non-root sefs mounts. */
  hostSefs: string;
  /** Host backend: the live start/exec server's state. */
  server: string;
}

export function instancePaths(dir: string): InstancePaths {
  const build = join(dir, 'build');
  const run = join(dir, 'run');
  const hostBuild = join(build, 'host');
  const hostRun = join(run, 'host');
  return {
    dir,
    config: join(dir, 'Occlum.json'),
    status: join(dir, STATUS_FILE),
    sgxMode: join(dir, '.sgx_mode'),
    image: join(dir, 'image'),
    initfs: join(dir, 'initfs'),
    build,
    buildRoot: join(build, 'mount', '__ROOT'),
    rootMac: join(build, 'mount', '.ROOT_MAC'),
    sysJson: join(build, '.Occlum_sys.json'),
    sysJsonProtected: join(build, '.Occlum_sys.json.protected'),
    imageConfig: join(build, 'image_config.json'),
    run,
    runRoot: join(run, 'mount', '__ROOT'),
    runInitfsRoot: join(run, 'initfs', '__ROOT'),
    hostBuild,
    hostRootfs: join(hostBuild, 'rootfs'),
    hostManifest: join(hostBuild, 'manifest.json'),
    hostUpper: join(hostRun, 'upper'),
    hostWork: join(hostRun, 'work'),
    hostSefs: join(hostRun, 'sefs'),
    server: join(hostRun, 'server.json'),
  };
}

/** Directories `occlum init` creates under image/ (spec 1.4). */
export const IMAGE_DIRS = ['bin', 'lib', 'lib64', 'root', 'host', 'tmp', 'dev', 'proc', 'etc', 'sbin', 'ext2'];
/** Directories of initfs/ (Occlum's init stage; the host backend has no init process). */
export const INITFS_DIRS = ['bin', 'lib', 'dev', 'proc', 'etc'];
