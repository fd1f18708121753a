/** `cairn/core`: error codes, ids, limits and the JSON type — browser-safe, imports nothing. */
export * from './errors.js';
export * from './ids.js';
export type * from './json.js';
export * from './limits.js';
