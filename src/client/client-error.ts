import type { ErrorCode } from '../core/errors.js';

/** A refusal from the server (or the connection), typed like the server's errors (SPEC §9). */
export class CairnClientError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The error's other fields (`limit`, `results` of a refused transaction, …). */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'CairnClientError';
  }
}
