// Public surface of the Occlum.json model (pure: no UI).
export * from './types.ts';
export { checkConfig, type CheckResult, type CheckOptions } from './validate.ts';
export { formatDiagnostic } from './format-diagnostic.ts';
export { parseConfig, nodePath, type ParsedConfig } from './parse.ts';
export { LineIndex } from './location.ts';
export {
  VERSION_IDS,
  VERSION_NOTES,
  LATEST,
  resolveVersion,
  detectVersion,
  atLeast,
  type VersionId,
  type Detection,
} from './versions.ts';
export { KEYS, MOUNT_KEYS, FS_TYPES, helpFor, type KeySpec } from './keys.ts';
export { parseSize, formatSize, suggestSize } from './sizes.ts';
export {
  applyOps,
  applyTextEdits,
  detectFormatting,
  editsFor,
  diffEdit,
  type EditOp,
  type Formatting,
} from './edit.ts';
export { migrationEdits, migrateText } from './migrate.ts';
export { readSettings, SETTINGS_FILE } from './settings.ts';
export { configSchema } from './schema.ts';
export { EditHistory, applyOp, applyFix } from './document.ts';
export {
  loadConfigFile,
  saveConfigFile,
  checkDisk,
  hashText,
  SaveConflictError,
  type DiskState,
  type LoadedFile,
  type DiskCheck,
} from './file.ts';
