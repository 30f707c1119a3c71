// Where things live in an Occlum instance directory (Occlum 0.31 layout, spec 1.4), plus the
// host backend's own files, which stay inside build/ and run/ so `occlum build` semantics
// (wipe run/, replace build/) carry over. Every path of an instance is built here: elsewhere,
// take it from instancePaths() (or buildPaths() for a build staged outside build/).
import { join } from 'node:path';

export const STATUS_FILE = '.__occlum_status';

/** The files of one build directory: build/ itself, or the one a build is staged in before it replaces build/. */
export interface BuildPaths {
  build: string;
  /** build/mount: the secure image and its MAC file. */
  buildMount: string;
  /** build/mount/__ROOT: the SEFS image of image/. */
  buildRoot: string;
  rootMac: string;
  /** build/initfs/__ROOT: Occlum's init file system image. */
  buildInitfsRoot: string;
  sysJson: string;
  sysJsonProtected: string;
  /** The config an Occlum before 0.29.6 generated in place of .Occlum_sys.json. */
  buildOcclumJson: string;
  imageConfig: string;
  /** The signed LibOS `occlum build` leaves (Occlum backend). */
  signedLibos: string;
  /** Host backend: files of the last good build beyond Occlum's own (see docs/backends.md). */
  hostBuild: string;
  /** Host backend: the plain image layer the sandbox mounts read-only as the lower layer. */
  hostRootfs: string;
  /** Host backend: content manifest of hostRootfs, pinned by the protected config. */
  hostManifest: string;
  /** Host backend: the MAC of the protected config, where Occlum patches it into the LibOS. */
  hostPin: string;
  /** Host backend: the image key of an encrypted build. */
  hostImageKey: string;
  /** Host backend: caches of the last verification of the secure image and of the rootfs. */
  hostSecureCache: string;
  hostStatCache: string;
}

export function buildPaths(build: string): BuildPaths {
  const buildMount = join(build, 'mount');
  const hostBuild = join(build, 'host');
  return {
    build,
    buildMount,
    buildRoot: join(buildMount, '__ROOT'),
    rootMac: join(buildMount, '.ROOT_MAC'),
    buildInitfsRoot: join(build, 'initfs', '__ROOT'),
    sysJson: join(build, '.Occlum_sys.json'),
    sysJsonProtected: join(build, '.Occlum_sys.json.protected'),
    buildOcclumJson: join(build, 'Occlum.json'),
    imageConfig: join(build, 'image_config.json'),
    signedLibos: join(build, 'lib', 'libocclum-libos.signed.so'),
    hostBuild,
    hostRootfs: join(hostBuild, 'rootfs'),
    hostManifest: join(hostBuild, 'manifest.json'),
    hostPin: join(hostBuild, 'builtin_config'),
    hostImageKey: join(hostBuild, 'image_key'),
    hostSecureCache: join(hostBuild, 'securecache.json'),
    hostStatCache: join(hostBuild, 'statcache.json'),
  };
}

export interface InstancePaths extends BuildPaths {
  dir: string;
  config: string;
  status: string;
  sgxMode: string;
  image: string;
  initfs: string;
  run: string;
  runRoot: string;
  runInitfsRoot: string;
  /** Host backend: its run-time files. */
  hostRun: string;
  /** Host backend: the state of the last run. */
  hostRunState: string;
  /** Host backend: the live server's log. */
  hostServerLog: string;
  /** Host backend: the writable run layer (overlay upper dir), persists across runs. */
  hostUpper: string;
  hostWork: string;
  /** Host backend: where the overlay is mounted, and the ramfs mounts' backing. */
  hostMerged: string;
  hostRamfs: string;
  /** Host backend: the compiled seccomp filter of runs that may not fork. */
  hostSeccompNoFork: string;
  /** Host backend: the same filter with fork attempts sent to the fork watch (the fork shim installs it). */
  hostSeccompForkWatch: string;
  /** Host backend: the filter of `--allow-fork` runs (no fork rule; the terminal rule stays). */
  hostSeccompAllowFork: string;
  /** Host backend: directories backing non-root sefs mounts. */
  hostSefs: string;
  /** Host backend: the live start/exec server's state. */
  server: string;
}

export function instancePaths(dir: string): InstancePaths {
  const run = join(dir, 'run');
  const hostRun = join(run, 'host');
  return {
    dir,
    config: join(dir, 'Occlum.json'),
    status: join(dir, STATUS_FILE),
    sgxMode: join(dir, '.sgx_mode'),
    image: join(dir, 'image'),
    initfs: join(dir, 'initfs'),
    ...buildPaths(join(dir, 'build')),
    run,
    runRoot: join(run, 'mount', '__ROOT'),
    runInitfsRoot: join(run, 'initfs', '__ROOT'),
    hostRun,
    hostRunState: join(hostRun, 'run.json'),
    hostServerLog: join(hostRun, 'server.log'),
    hostUpper: join(hostRun, 'upper'),
    hostWork: join(hostRun, 'work'),
    hostMerged: join(hostRun, 'merged'),
    hostRamfs: join(hostRun, 'ramfs'),
    hostSeccompNoFork: join(hostRun, 'seccomp-nofork.bpf'),
    hostSeccompForkWatch: join(hostRun, 'seccomp-forkwatch.bpf'),
    hostSeccompAllowFork: join(hostRun, 'seccomp-allowfork.bpf'),
    hostSefs: join(hostRun, 'sefs'),
    server: join(hostRun, 'server.json'),
  };
}

/** The two SEFS layers of the root unionfs that `occlum init` writes and the LibOS requires
 * (spec 2.4): the image layer (the build fills in its MAC) under the writable container layer. */
export const IMAGE_LAYER = { target: '/', type: 'sefs', source: './build/mount/__ROOT', options: { MAC: '' } };
export const CONTAINER_LAYER = { target: '/', type: 'sefs', source: './run/mount/__ROOT' };
export const ROOT_LAYERS = [IMAGE_LAYER, CONTAINER_LAYER];
/** The root mount of Occlum.json: a unionfs of ROOT_LAYERS. */
export const ROOT_MOUNT = { target: '/', type: 'unionfs', options: { layers: ROOT_LAYERS } };

/** Directories `occlum init` creates under image/ (spec 1.4). */
export const IMAGE_DIRS = ['bin', 'lib', 'lib64', 'root', 'host', 'tmp', 'dev', 'proc', 'etc', 'sbin', 'ext2'];
/** Directories of initfs/ (Occlum's init stage; the host backend has no init process). */
export const INITFS_DIRS = ['bin', 'lib', 'dev', 'proc', 'etc'];
