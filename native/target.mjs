// The addon's file name for this machine, napi-rs style: occlum_studio.<platform>-<arch>[-abi].node
// (e.g. occlum_studio.linux-x64-gnu.node). The package ships the linux-x64-gnu build; a build from
// source writes the name of the machine it runs on, so a loader finds either the same way.
// Plain JavaScript: the install scripts use it without a build step, the bundled CLI through esbuild.

/** glibc or musl, from the runtime report (as napi-rs detects it); '' off Linux. */
function linuxAbi() {
  if (typeof process.report?.getReport !== 'function') return 'gnu';
  // The network part of the report resolves host names: slow, and not needed here.
  const excluded = process.report.excludeNetwork;
  process.report.excludeNetwork = true;
  const report = process.report.getReport();
  process.report.excludeNetwork = excluded;
  const header = report && typeof report === 'object' ? report.header : undefined;
  return header && header.glibcVersionRuntime ? 'gnu' : 'musl';
}

/** e.g. linux-x64-gnu, linux-arm64-musl, darwin-arm64. */
export function nativeTarget(platform = process.platform, arch = process.arch) {
  if (platform === 'linux') return `linux-${arch}-${linuxAbi()}`;
  if (platform === 'win32') return `win32-${arch}-msvc`;
  return `${platform}-${arch}`;
}

/** The addon's file name in native/ for a target. */
export function addonFileName(target = nativeTarget()) {
  return `occlum_studio.${target}.node`;
}

/** The target the published package carries a prebuilt addon for. */
export const PREBUILT_TARGET = 'linux-x64-gnu';
