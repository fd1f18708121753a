/**
 * `cairn/protocol`: the wire types and validators of the HTTP API, browser-safe
 * (no Node-only API), for clients in any JavaScript runtime.
 */
export * from './api.js';
export * from './base64.js';
export * from './branch-request.js';
export * from './cursor.js';
export * from './primitives.js';
export * from './receipt.js';
export * from './tx-record.js';
export * from './tx-request.js';
export * from './validate.js';
export * from './version-selector.js';
export * from './views.js';
