import { CairnError } from '../core/errors.js';
import { isChangeHash } from '../core/ids.js';

/** Which version of a branch a read asks for (SPEC §3). */
export type VersionSelector =
  | { kind: 'current' }
  | { kind: 'seq'; seq: number }
  | { kind: 'epoch'; epoch: number }
  | { kind: 'at'; ms: number }
  | { kind: 'heads'; heads: string[] };

const UINT = /^(0|[1-9][0-9]{0,15})$/;
/** ISO-8601 date-time with a zone (or a date alone, taken as UTC midnight). */
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?$/;

export function parseUint(name: string, text: string): number {
  if (!UINT.test(text))
    throw new CairnError('ValidationError', `${name} must be a non-negative integer`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new CairnError('ValidationError', `${name} is too large`);
  return n;
}

/** Parses `seq=`, `epoch=`, `at=`, `heads=`: at most one of them. */
export function parseVersionSelector(
  query: Record<string, string | undefined>,
  maxHeads: number,
): VersionSelector {
  const given = (['seq', 'epoch', 'at', 'heads'] as const).filter((k) => query[k] !== undefined);
  if (given.length > 1) {
    throw new CairnError(
      'ValidationError',
      `give at most one of seq, epoch, at, heads (got ${given.join(', ')})`,
    );
  }
  const key = given[0];
  if (key === undefined) return { kind: 'current' };
  const text = query[key] as string;
  switch (key) {
    case 'seq':
      return { kind: 'seq', seq: parseUint('seq', text) };
    case 'epoch':
      return { kind: 'epoch', epoch: parseUint('epoch', text) };
    case 'at':
      return { kind: 'at', ms: parseInstant(text) };
    case 'heads': {
      const heads = text.split(',');
      if (heads.length > maxHeads) {
        throw new CairnError('LimitExceeded', `at most ${maxHeads} heads`, {
          limit: 'maxHeadsPerRef',
        });
      }
      if (!heads.every(isChangeHash)) {
        throw new CairnError(
          'ValidationError',
          'heads must be comma-separated 64-char lowercase hex hashes',
        );
      }
      return { kind: 'heads', heads: [...new Set(heads)].sort() };
    }
  }
}

/** `at=`: epoch milliseconds, or ISO-8601. */
function parseInstant(text: string): number {
  if (UINT.test(text)) return parseUint('at', text);
  const ms = ISO_8601.test(text) ? Date.parse(text) : NaN;
  if (!Number.isFinite(ms)) {
    throw new CairnError(
      'ValidationError',
      'at must be epoch milliseconds or an ISO-8601 date-time',
    );
  }
  return ms;
}
