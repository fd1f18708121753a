import crypto from 'node:crypto';
import { base58btc } from 'multiformats/bases/base58';
import { CairnError } from '../core/errors.js';

/** PKCS#8 DER prefix of an Ed25519 private key; the 32-byte seed follows it. */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
/** Multicodec varint of ed25519-pub, the prefix of a did:key's key bytes. */
const ED25519_PUB_MULTICODEC = Uint8Array.from([0xed, 0x01]);
export const SERVER_KEY_SETTING = 'server-key';

/** The server's Ed25519 identity: signs the tx chain and is the audience of UCANs. */
export interface ServerIdentity {
  readonly did: string;
  readonly publicKey: Uint8Array;
  /** The key itself, so that a worker thread can sign with it (KeyObjects cross threads). */
  readonly privateKey: crypto.KeyObject;
  sign(message: Uint8Array): Uint8Array;
}

export function didKeyFromEd25519(publicKey: Uint8Array): string {
  const bytes = new Uint8Array(ED25519_PUB_MULTICODEC.length + publicKey.length);
  bytes.set(ED25519_PUB_MULTICODEC, 0);
  bytes.set(publicKey, ED25519_PUB_MULTICODEC.length);
  return `did:key:${base58btc.encode(bytes)}`;
}

/** Parses a did:key of an Ed25519 key into the raw 32-byte public key. */
export function ed25519FromDidKey(did: string): Uint8Array {
  if (!did.startsWith('did:key:z')) throw new CairnError('ValidationError', 'not a did:key');
  const bytes = base58btc.decode(did.slice('did:key:'.length));
  if (bytes.length !== 34 || bytes[0] !== 0xed || bytes[1] !== 0x01) {
    throw new CairnError('ValidationError', 'not an Ed25519 did:key');
  }
  return bytes.slice(2);
}

export function identityFromSeed(seed: Uint8Array): ServerIdentity {
  if (seed.length !== 32) throw new CairnError('ValidationError', 'an Ed25519 seed is 32 bytes');
  const privateKey = crypto.createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const jwk = crypto.createPublicKey(privateKey).export({ format: 'jwk' });
  const publicKey = new Uint8Array(Buffer.from(jwk.x as string, 'base64url'));
  return {
    did: didKeyFromEd25519(publicKey),
    publicKey,
    privateKey,
    sign: (message) => new Uint8Array(crypto.sign(null, message, privateKey)),
  };
}

/** Public keys made into KeyObjects (a chain is signed by one or a few servers). */
const verifyKeys = new Map<string, crypto.KeyObject>();
const VERIFY_KEYS_KEPT = 64;

export function verifyEd25519(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  const x = Buffer.from(publicKey).toString('base64url');
  let key = verifyKeys.get(x);
  if (!key) {
    // Making the KeyObject costs more than the verification itself.
    key = crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
    if (verifyKeys.size >= VERIFY_KEYS_KEPT) verifyKeys.clear();
    verifyKeys.set(x, key);
  }
  return crypto.verify(null, message, key, signature);
}

/** Parses `CAIRN_SERVER_KEY`: the 32-byte seed as base64url (or base64, or 64 hex chars). */
export function parseServerKey(text: string): Uint8Array {
  const t = text.trim();
  const bytes = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64url');
  if (bytes.length !== 32) {
    throw new CairnError(
      'ValidationError',
      'CAIRN_SERVER_KEY must be a 32-byte Ed25519 seed (base64url or hex)',
    );
  }
  return bytes;
}

/** Where the server key is kept when not given: the backend's settings (data dir or database). */
export interface KeyStore {
  getSetting(key: string): Promise<string | undefined>;
  putSettingIfAbsent(key: string, value: string): Promise<string>;
}

/**
 * The server identity: from `envKey` when given, else the stored key, else a
 * new key stored race-free (two processes starting together end up with one).
 */
export async function loadServerIdentity(
  store: KeyStore,
  envKey?: string,
): Promise<ServerIdentity> {
  if (envKey) return identityFromSeed(parseServerKey(envKey));
  const existing = await store.getSetting(SERVER_KEY_SETTING);
  const stored =
    existing ??
    (await store.putSettingIfAbsent(
      SERVER_KEY_SETTING,
      crypto.randomBytes(32).toString('base64url'),
    ));
  return identityFromSeed(parseServerKey(stored));
}
