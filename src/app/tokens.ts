import { isAbility, type Ability, type Capability, covers } from '../auth/capabilities.js';
import { identityFromSeed, parseServerKey, SERVER_KEY_SETTING } from '../auth/server-identity.js';
import { mintUcan } from '../auth/ucan-mint.js';
import { decodeUcan } from '../auth/ucan-token.js';
import { CairnError } from '../core/errors.js';
import { readSetting } from '../storage/read-setting.js';
import type { Keyring } from './keyring.js';

/** `30s`, `15m`, `1h`, `7d` (or plain seconds) as seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(text.trim());
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m?.[2] ?? ''];
  const n = m ? Number(m[1]) * (unit ?? 1) : NaN;
  if (!m || !Number.isSafeInteger(n) || n < 1 || n > 366 * 86400) {
    throw new CairnError(
      'ValidationError',
      `--ttl: "${text}" is not a duration like 30s, 15m, 1h or 7d (at most 366d)`,
    );
  }
  return n;
}

/**
 * The server's DID, the audience of request tokens: from CAIRN_SERVER_KEY
 * when set, else the key the server keeps in its data dir or database.
 */
export async function findServerDid(options: {
  dataDir: string;
  databaseUrl?: string;
  serverKey?: string;
}): Promise<string> {
  if (options.serverKey) return identityFromSeed(parseServerKey(options.serverKey)).did;
  const where = options.databaseUrl
    ? { databaseUrl: options.databaseUrl }
    : { dataDir: options.dataDir };
  const stored = await readSetting(where, SERVER_KEY_SETTING);
  if (!stored) {
    throw new CairnError(
      'ValidationError',
      'no server key yet: start the server once on this data dir or database, or pass --audience',
    );
  }
  return identityFromSeed(parseServerKey(stored)).did;
}

export interface TokenRequest {
  space: string;
  can: string[];
  ttlSec: number;
  audience: string;
  /** Delegate from this token (its audience's key must be in the keyring). */
  from?: string;
}

export interface MintedToken {
  token: string;
  issuer: string;
  audience: string;
  capabilities: Capability[];
  expiresAt: string;
}

/**
 * Mints a token for `cairn token`: signed by the space's own key, or — with
 * `from` — delegated by the key that token was given to, narrowing it (each
 * capability must be covered by `from`'s, and it may not outlive it).
 */
export function mintToken(keyring: Keyring, req: TokenRequest): MintedToken {
  const abilities = req.can.map((c) => {
    if (!isAbility(c)) throw new CairnError('ValidationError', `--can: "${c}" is not an ability`);
    return c as Ability;
  });
  if (abilities.length === 0) throw new CairnError('ValidationError', 'give at least one --can');
  const capabilities: Capability[] = abilities.map((can) => ({ with: req.space, can }));
  let issuerSeed: Uint8Array | undefined;
  let proofs: string[] = [];
  let ttlSec = req.ttlSec;
  if (req.from) {
    const parent = decodeUcan(req.from).payload;
    issuerSeed = keyring.seedOf(parent.aud);
    if (!issuerSeed)
      throw new CairnError(
        'ValidationError',
        `--from: no key for its audience ${parent.aud} in ${keyring.file}`,
      );
    for (const c of capabilities) {
      if (!parent.att.some((p) => covers(p, c))) {
        throw new CairnError(
          'ValidationError',
          `--from does not grant ${c.can} on ${c.with}: a delegation may only narrow`,
        );
      }
    }
    const leftSec = parent.exp - Math.floor(Date.now() / 1000);
    if (leftSec < 1) throw new CairnError('ValidationError', '--from has expired');
    ttlSec = Math.min(ttlSec, leftSec);
    proofs = [req.from];
  } else {
    issuerSeed = keyring.seedOf(req.space);
    if (!issuerSeed) {
      throw new CairnError(
        'ValidationError',
        `no key for space ${req.space} in ${keyring.file} (cairn space create makes one)`,
      );
    }
  }
  const token = mintUcan({ issuerSeed, audience: req.audience, capabilities, ttlSec, proofs });
  const exp = decodeUcan(token).payload.exp;
  return {
    token,
    issuer: identityFromSeed(issuerSeed).did,
    audience: req.audience,
    capabilities,
    expiresAt: new Date(exp * 1000).toISOString(),
  };
}
