import crypto from 'node:crypto';
import { CairnError } from '../core/errors.js';
import { DEFAULT_LIMITS, type Limits } from '../core/limits.js';
import { LruMap } from '../core/lru-map.js';
import { covers, type Capability } from './capabilities.js';
import { ed25519FromDidKey } from './server-identity.js';
import { decodeUcan, type UcanPayload } from './ucan-token.js';

export interface UcanLimits {
  /** Tokens of one chain, the presented one included (a deeper chain is refused). */
  maxChainDepth: number;
  /** Length of the presented token, its proofs inside it included. */
  maxTokenBytes: number;
  /** Tolerated difference between the issuer's clock and ours, for `exp` and `nbf`. */
  clockSkewSec: number;
}

/** The defaults of core/limits.ts (`maxTokenChainDepth`, `maxTokenBytes`, `tokenClockSkewSec`). */
export const DEFAULT_UCAN_LIMITS: Readonly<UcanLimits> = ucanLimits(DEFAULT_LIMITS);

export function ucanLimits(limits: Limits): UcanLimits {
  return Object.freeze({
    maxChainDepth: limits.maxTokenChainDepth,
    maxTokenBytes: limits.maxTokenBytes,
    clockSkewSec: limits.tokenClockSkewSec,
  });
}

/** A token whose signature, times and whole chain checked out. */
export interface VerifiedUcan {
  iss: string;
  aud: string;
  /** When the token stops being valid (ms): the earliest `exp` of its chain. */
  expiresAtMs: number;
  /** Every capability of the token, each proven by its chain. */
  caps: readonly Capability[];
  fct: Record<string, unknown> | undefined;
  /** Tokens in its longest chain, itself included (a cached proof still counts toward depth). */
  height: number;
}

/** Verified tokens remembered (each entry a few hundred bytes). */
const CACHE_ENTRIES = 10_000;

/**
 * Verifies UCAN chains (docs/AUTH.md): Ed25519 signatures by each `iss`
 * did:key, `exp`/`nbf` with a clock skew, every proof addressed to the
 * token's issuer and at least as long-lived, every capability of a token
 * covered by one of its proofs unless its issuer is the resource itself (a
 * space's own DID is its root authority), depth and size bounded. Results
 * are cached by the token's SHA-256 until the chain expires; a proof shared
 * by many tokens is verified once.
 */
export class UcanVerifier {
  private readonly cache = new LruMap<string, VerifiedUcan>(CACHE_ENTRIES);
  private readonly keys = new LruMap<string, crypto.KeyObject>(CACHE_ENTRIES);
  readonly stats = { verified: 0, cacheHits: 0 };

  constructor(
    readonly limits: UcanLimits = DEFAULT_UCAN_LIMITS,
    private readonly nowMs: () => number = Date.now,
    private readonly useCache = true,
  ) {}

  /** The verified token; `Unauthorized` (saying why, never naming data) if it is not valid now. */
  verify(token: string): VerifiedUcan {
    if (token.length > this.limits.maxTokenBytes) {
      throw new CairnError('Unauthorized', 'invalid token: too large', {
        limit: 'maxTokenBytes',
      });
    }
    return this.verifyAt(token, 1);
  }

  private verifyAt(token: string, depth: number): VerifiedUcan {
    if (depth > this.limits.maxChainDepth) throw tooDeep();
    const key = this.useCache ? crypto.createHash('sha256').update(token).digest('base64url') : '';
    const cached = this.useCache ? this.cache.get(key) : undefined;
    if (cached && this.timeValid(cached.expiresAtMs, undefined)) {
      this.stats.cacheHits++;
      if (depth - 1 + cached.height > this.limits.maxChainDepth) throw tooDeep();
      return cached;
    }
    const verified = this.verifyUncached(token, depth);
    if (this.useCache) this.cache.set(key, verified);
    return verified;
  }

  private verifyUncached(token: string, depth: number): VerifiedUcan {
    const { payload, signedBytes, signature } = decodeUcan(token);
    if (!crypto.verify(null, signedBytes, this.publicKey(payload.iss), signature)) {
      throw new CairnError('Unauthorized', 'invalid token: bad signature');
    }
    this.stats.verified++;
    if (!this.timeValid(payload.exp * 1000, payload.nbf)) {
      throw new CairnError('Unauthorized', 'invalid token: expired or not yet valid');
    }
    const proofs = payload.prf.map((p) => this.verifyAt(p, depth + 1));
    let expiresAtMs = payload.exp * 1000;
    for (const proof of proofs) {
      checkLink(payload, proof);
      expiresAtMs = Math.min(expiresAtMs, proof.expiresAtMs);
    }
    for (const cap of payload.att) {
      const rooted = cap.with === payload.iss;
      if (!rooted && !proofs.some((p) => p.caps.some((held) => covers(held, cap)))) {
        throw new CairnError('Unauthorized', 'invalid token: a capability is not delegated');
      }
    }
    const height = 1 + Math.max(0, ...proofs.map((p) => p.height));
    return {
      iss: payload.iss,
      aud: payload.aud,
      expiresAtMs,
      caps: payload.att,
      fct: payload.fct,
      height,
    };
  }

  private timeValid(expMs: number, nbfSec: number | undefined): boolean {
    const now = this.nowMs();
    const skewMs = this.limits.clockSkewSec * 1000;
    return expMs + skewMs > now && (nbfSec === undefined || nbfSec * 1000 - skewMs <= now);
  }

  private publicKey(did: string): crypto.KeyObject {
    let key = this.keys.get(did);
    if (!key) {
      let raw: Uint8Array;
      try {
        raw = ed25519FromDidKey(did);
      } catch {
        throw new CairnError('Unauthorized', 'invalid token: the issuer is not an Ed25519 did:key');
      }
      key = crypto.createPublicKey({
        key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') },
        format: 'jwk',
      });
      this.keys.set(did, key);
    }
    return key;
  }
}

function tooDeep(): CairnError {
  return new CairnError('Unauthorized', 'invalid token: delegation chain too deep', {
    limit: 'maxChainDepth',
  });
}

/** A proof must be addressed to the token's issuer and cover its whole lifetime. */
function checkLink(token: UcanPayload, proof: VerifiedUcan): void {
  if (proof.aud !== token.iss) {
    throw new CairnError('Unauthorized', 'invalid token: a proof is not addressed to its issuer');
  }
  if (token.exp * 1000 > proof.expiresAtMs) {
    throw new CairnError('Unauthorized', 'invalid token: it outlives one of its proofs');
  }
}
