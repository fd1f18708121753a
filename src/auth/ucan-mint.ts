import type { Capability } from './capabilities.js';
import { identityFromSeed } from './server-identity.js';
import { encodeUcan } from './ucan-token.js';

export interface MintOptions {
  /** The issuer's Ed25519 seed (32 bytes): a space key to mint, another key to delegate. */
  issuerSeed: Uint8Array;
  /** Who may use (or delegate further) the token: the server's DID for a request token. */
  audience: string;
  capabilities: Capability[];
  /** Lifetime from now, seconds. */
  ttlSec: number;
  /** Valid from (seconds since the epoch); default: at once. */
  notBefore?: number;
  /** Parent tokens proving the issuer holds the capabilities (empty when minting from a space key). */
  proofs?: string[];
  facts?: Record<string, unknown>;
  nowMs?: number;
}

/**
 * Mints a UCAN (docs/AUTH.md): from a space's own key (no proofs: the space
 * DID is the root authority), or delegated from a token addressed to the
 * issuer (that token as the proof; capabilities may only narrow).
 */
export function mintUcan(options: MintOptions): string {
  const issuer = identityFromSeed(options.issuerSeed);
  const nowSec = Math.floor((options.nowMs ?? Date.now()) / 1000);
  return encodeUcan(
    {
      iss: issuer.did,
      aud: options.audience,
      exp: nowSec + Math.max(1, Math.floor(options.ttlSec)),
      ...(options.notBefore !== undefined ? { nbf: options.notBefore } : {}),
      att: options.capabilities,
      prf: options.proofs ?? [],
      ...(options.facts ? { fct: options.facts } : {}),
    },
    (bytes) => issuer.sign(bytes),
  );
}
