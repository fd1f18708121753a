import type { Ability } from '../core/abilities.js';
import { CairnError } from '../core/errors.js';
import { grants, type Capability } from './capabilities.js';
import { UcanVerifier } from './ucan-verifier.js';

/** `required`: every request needs a token (SPEC §7 default); `off`: everything is allowed. */
export type AuthMode = 'required' | 'off';

/** What a request or a live session may do, from its token. */
export interface Grant {
  /** Auth is off: everything is allowed. */
  readonly all: boolean;
  readonly caps: readonly Capability[];
  /** When the token stops being valid (ms); Infinity when auth is off. */
  readonly expiresAtMs: number;
  /** The token's issuer (undefined when auth is off). */
  readonly did: string | undefined;
  /** Facts of the token (`txDigest`, docs/AUTH.md). */
  readonly facts: Record<string, unknown> | undefined;
}

const EVERYTHING: Grant = Object.freeze({
  all: true,
  caps: [],
  expiresAtMs: Infinity,
  did: undefined,
  facts: undefined,
});

/**
 * The server's gate (SPEC §7): turns a presented token into a `Grant`
 * (`401 Unauthorized` when it is missing, invalid, expired or addressed to
 * another server) and checks one ability over one space against it
 * (`403 Forbidden`). Messages say what is wrong with the token, never
 * whether a space, doc or key exists: no check touches storage.
 */
export class Authorizer {
  constructor(
    readonly mode: AuthMode,
    private readonly serverDid: string,
    readonly verifier = new UcanVerifier(),
  ) {}

  /** The grant of a token (`undefined`: none was sent). */
  grant(token: string | undefined): Grant {
    if (this.mode === 'off') return EVERYTHING;
    if (token === undefined || token === '') {
      throw new CairnError('Unauthorized', 'a token is required (Authorization: Bearer <UCAN>)');
    }
    const verified = this.verifier.verify(token);
    if (verified.aud !== this.serverDid) {
      throw new CairnError('Unauthorized', 'invalid token: addressed to another server');
    }
    return {
      all: false,
      caps: verified.caps,
      expiresAtMs: verified.expiresAtMs,
      did: verified.iss,
      facts: verified.fct,
    };
  }

  /** The clock skew tolerated after a token's `exp` (ms). */
  get skewMs(): number {
    return this.verifier.limits.clockSkewSec * 1000;
  }

  /** Throws `Forbidden` unless `grant` allows `can` over `space` (now). */
  require(grant: Grant, space: string, can: Ability, install?: string): void {
    if (grant.all) return;
    if (grant.expiresAtMs + this.skewMs <= Date.now()) {
      throw new CairnError('Unauthorized', 'invalid token: expired');
    }
    if (!grants(grant.caps, space, can, install)) {
      throw new CairnError('Forbidden', `the token does not grant ${can} on this space`);
    }
  }
}

/** The token of an `Authorization: Bearer <token>` header (undefined without one). */
export function bearerToken(header: string | null | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) throw new CairnError('Unauthorized', 'the Authorization header must be "Bearer <UCAN>"');
  return m[1];
}
