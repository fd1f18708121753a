/** `cairn/client`: the browser-safe live client (SPEC §6). */
export { CairnClient, type CairnClientOptions, type WebSocketLike } from './cairn-client.js';
export { CairnClientError } from './client-error.js';
export { backoffDelayMs, type BackoffOptions } from './backoff.js';
