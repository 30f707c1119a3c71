// Public surface of the log core: parsing, levels, buffer + filters, hints, formatting.
export * from './types.ts';
export { LogParser, parseLog } from './parser.ts';
export { cleanLine } from './clean.ts';
export * from './levels.ts';
export { RingBuffer } from './ring.ts';
export * from './filter.ts';
export { LogBuffer, DEFAULT_CAPACITY } from './buffer.ts';
export { hintsFor, hintsForText, OutputHints, type LogHint } from './hints.ts';
export { forkAttemptHint, forkAttemptsText, withForkHint } from './fork-hint.ts';
export { formatRecord, recordContext, recordParts, LEVEL_LABEL, type RecordParts } from './format.ts';
