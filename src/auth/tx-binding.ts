import crypto from 'node:crypto';
import { CairnError } from '../core/errors.js';
import type { Grant } from './authorizer.js';

/** The fact (`fct.txDigest`) that binds a write token to the changes it authorizes. */
export const TX_DIGEST_FACT = 'txDigest';

/** The writes of a transaction as the digest sees them (their changes decoded). */
export interface BoundWrite {
  docId: string;
  branch: string;
  changes: readonly Uint8Array[];
}

/**
 * The digest a bound token carries (docs/AUTH.md): base64url SHA-256 over,
 * for each write in body order, its UTF-8 doc id, a 0 byte, its branch, a 0
 * byte, then the SHA-256 of each change's bytes in order.
 */
export function txDigest(writes: readonly BoundWrite[]): string {
  const h = crypto.createHash('sha256');
  for (const w of writes) {
    h.update(w.docId).update('\0').update(w.branch).update('\0');
    for (const c of w.changes) h.update(crypto.createHash('sha256').update(c).digest());
  }
  return h.digest('base64url');
}

/**
 * A token with `fct.txDigest` authorizes only the transaction with exactly
 * those changes: a leaked copy cannot be replayed to write anything else.
 * Tokens without the fact are not bound.
 */
export function requireTxBinding(grant: Grant | undefined, writes: readonly BoundWrite[]): void {
  const bound = grant?.facts?.[TX_DIGEST_FACT];
  if (bound === undefined) return;
  if (typeof bound !== 'string' || bound !== txDigest(writes)) {
    throw new CairnError('Forbidden', 'the token is bound to other changes (fct.txDigest)');
  }
}
