import { z } from 'zod';
import { CairnError } from '../core/errors.js';
import { ABILITIES } from '../core/abilities.js';
import type { Capability } from './capabilities.js';

/**
 * The UCAN flavour cairn speaks (docs/AUTH.md): a JWT in the UCAN 0.9 shape,
 * `base64url(header).base64url(payload).base64url(signature)`, signed with
 * Ed25519 by the `iss` did:key over the ASCII of the first two segments.
 * Proofs (`prf`) are the full parent tokens, so one string carries its whole
 * chain and a server needs no proof store.
 */
export const UCAN_HEADER = { alg: 'EdDSA', typ: 'JWT', ucv: '0.9.0' } as const;

const capability = z.strictObject({
  with: z.string().min(1).max(256),
  can: z.enum(ABILITIES),
  nb: z.strictObject({ install: z.string().min(1).max(128).optional() }).optional(),
});

const payload = z.object({
  iss: z.string().startsWith('did:key:').max(256),
  aud: z.string().startsWith('did:').max(256),
  /** Seconds since the epoch; required (a token that never expires is refused). */
  exp: z.number().int().nonnegative(),
  nbf: z.number().int().nonnegative().optional(),
  nnc: z.string().max(128).optional(),
  att: z.array(capability).min(1).max(32),
  prf: z.array(z.string()).max(8).default([]),
  /** Facts: `txDigest` binds a write token to the changes it authorizes (docs/AUTH.md). */
  fct: z.record(z.string(), z.unknown()).optional(),
});

export type UcanPayload = z.infer<typeof payload>;

/** A token split into its parts; the signature is not checked here. */
export interface DecodedUcan {
  payload: UcanPayload;
  /** The bytes the signature covers: `header.payload` as ASCII. */
  signedBytes: Uint8Array;
  signature: Uint8Array;
}

const ASCII = new TextEncoder();

function invalid(why: string): CairnError {
  return new CairnError('Unauthorized', `invalid token: ${why}`);
}

function jsonSegment(segment: string, what: string): unknown {
  try {
    return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw invalid(`${what} is not base64url JSON`);
  }
}

/** Parses a token's structure and fields (not its signature, times or chain). */
export function decodeUcan(token: string): DecodedUcan {
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]+$/.test(p))) {
    throw invalid('not three base64url segments');
  }
  const [h, p, s] = parts as [string, string, string];
  const header = jsonSegment(h, 'header') as Record<string, unknown>;
  if (header?.alg !== 'EdDSA' || header.typ !== 'JWT') throw invalid('header must be EdDSA JWT');
  const parsed = payload.safeParse(jsonSegment(p, 'payload'));
  if (!parsed.success) throw invalid(`payload: ${parsed.error.issues[0]?.message ?? 'bad'}`);
  const signature = new Uint8Array(Buffer.from(s, 'base64url'));
  if (signature.length !== 64) throw invalid('an Ed25519 signature is 64 bytes');
  return { payload: parsed.data, signedBytes: ASCII.encode(`${h}.${p}`), signature };
}

/** A token's payload as it is signed: what `mint` fills in. */
export interface UcanFields {
  iss: string;
  aud: string;
  exp: number;
  nbf?: number;
  nnc?: string;
  att: Capability[];
  prf?: string[];
  fct?: Record<string, unknown>;
}

/** Encodes and signs a token with `sign` (Ed25519 by the key of `fields.iss`). */
export function encodeUcan(fields: UcanFields, sign: (bytes: Uint8Array) => Uint8Array): string {
  const seg = (v: unknown) => Buffer.from(JSON.stringify(v), 'utf8').toString('base64url');
  const body = { ...fields, prf: fields.prf ?? [] };
  const signed = `${seg(UCAN_HEADER)}.${seg(body)}`;
  return `${signed}.${Buffer.from(sign(ASCII.encode(signed))).toString('base64url')}`;
}
