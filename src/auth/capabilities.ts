/**
 * The abilities of SPEC §7 and §12 and how they imply one another:
 * `storage/admin` ⊇ `storage/write` ⊇ `storage/read`; `storage/admin` ⊇
 * `kv/write` ⊇ `kv/read`. A capability is an ability over a resource (`with`:
 * a space DID), optionally narrowed by caveats (`nb.install` for KV).
 */
import { ABILITIES, type Ability } from '../core/abilities.js';

export { ABILITIES, type Ability };

export interface Capability {
  /** The resource: a space DID. */
  with: string;
  can: Ability;
  /** Caveats: `install` narrows a KV ability to one install. */
  nb?: { install?: string };
}

const IMPLIED: Readonly<Record<Ability, readonly Ability[]>> = {
  'storage/admin': ['storage/admin', 'storage/write', 'storage/read', 'kv/write', 'kv/read'],
  'storage/write': ['storage/write', 'storage/read'],
  'storage/read': ['storage/read'],
  'kv/write': ['kv/write', 'kv/read'],
  'kv/read': ['kv/read'],
};

export function isAbility(value: unknown): value is Ability {
  return typeof value === 'string' && (ABILITIES as readonly string[]).includes(value);
}

/** Whether holding `held` grants `wanted` (same ability or a weaker one). */
export function implies(held: Ability, wanted: Ability): boolean {
  return IMPLIED[held].includes(wanted);
}

/**
 * Whether `parent` covers `child`: the same resource, an ability at least as
 * strong, and caveats at most as narrow (a parent narrowed to an install
 * covers only that install). Delegation may only attenuate: every
 * capability of a token must be covered by one of its proofs.
 */
export function covers(parent: Capability, child: Capability): boolean {
  if (parent.with !== child.with || !implies(parent.can, child.can)) return false;
  const install = parent.nb?.install;
  return install === undefined || install === child.nb?.install;
}

/** Whether any of `caps` grants `can` over `space` (for `install`, when a KV request names one). */
export function grants(
  caps: readonly Capability[],
  space: string,
  can: Ability,
  install?: string,
): boolean {
  const wanted: Capability = {
    with: space,
    can,
    ...(install !== undefined ? { nb: { install } } : {}),
  };
  return caps.some((c) => covers(c, wanted));
}
