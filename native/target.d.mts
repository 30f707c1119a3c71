export function nativeTarget(platform?: NodeJS.Platform, arch?: string): string;
export function addonFileName(target?: string): string;
export const PREBUILT_TARGET: string;
