import { createHash } from 'node:crypto';

/** Heads are always reported sorted (SPEC §1). */
export function sortHeads(heads: Iterable<string>): string[] {
  return [...new Set(heads)].sort();
}

/** SPEC §1: sha256 of the UTF-8 JSON array of the sorted heads, lowercase hex. */
export function rootRef(heads: readonly string[]): string {
  return createHash('sha256')
    .update(JSON.stringify(sortHeads(heads)), 'utf8')
    .digest('hex');
}

export function sameHeadSet(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a);
  const sb = new Set(b);
  if (sa.size !== sb.size) return false;
  for (const h of sa) if (!sb.has(h)) return false;
  return true;
}

/**
 * SPEC §2 step 6: new heads = (current heads ∪ new hashes) − deps of the new
 * changes. Valid because every dep of a new change is already known.
 */
export function advanceHeads(
  current: readonly string[],
  added: readonly { hash: string; deps: readonly string[] }[],
): string[] {
  const heads = new Set(current);
  for (const c of added) heads.add(c.hash);
  for (const c of added) for (const d of c.deps) heads.delete(d);
  return sortHeads(heads);
}
