import { CairnError } from '../../core/errors.js';

/**
 * SQLSTATE classes that mean "the database cannot take writes now" (SPEC §8
 * degraded mode), not a bug: connection failures, shutdown, out of disk or
 * memory, read-only, lock or serialization trouble.
 */
const UNAVAILABLE_SQLSTATE = /^(08|53|57|58|25006|40001|40P01|55P03)/;
const UNAVAILABLE_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
]);

export function mapPgError(err: unknown): unknown {
  if (err instanceof CairnError) return err;
  const code = (err as { code?: unknown }).code;
  const message = (err as { message?: unknown }).message;
  if (
    typeof code === 'string' &&
    (UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_NODE_CODES.has(code))
  ) {
    return new CairnError('StorageUnavailable', `storage unavailable (${code})`);
  }
  if (
    typeof message === 'string' &&
    /Connection terminated|timeout exceeded when trying to connect|is not queryable/.test(message)
  ) {
    return new CairnError('StorageUnavailable', 'storage unavailable (connection lost)');
  }
  return err;
}
