import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ChainSigner,
  WORKER_SIGNING_CHUNK,
  WORKER_SIGNING_MIN_RECORDS,
} from '../../src/auth/chain-signer.js';
import { identityFromSeed } from '../../src/auth/server-identity.js';
import { silentLogger } from '../../src/core/logger.js';

const identity = identityFromSeed(new Uint8Array(32).fill(3));
const hex = (sigs: Uint8Array[]) => sigs.map((s) => Buffer.from(s).toString('hex'));
/** What the main thread would sign: Ed25519 is deterministic, so this is the only right answer. */
const expected = (hashes: Uint8Array[]) => hex(hashes.map((h) => identity.sign(h)));

describe('chain signer', () => {
  let signer: ChainSigner | undefined;
  afterEach(async () => {
    await signer?.close();
  });

  it('returns the signatures of a big round in the order the hashes were added', async () => {
    signer = new ChainSigner(identity, silentLogger);
    // Two full chunks go to the worker; the rest is signed inline at the end.
    const hashes = Array.from({ length: 2 * WORKER_SIGNING_CHUNK + 5 }, () => randomBytes(32));
    const round = signer.begin(hashes.length);
    for (const h of hashes) round.add(h);
    expect(hex(await round.finish())).toEqual(expected(hashes));
  });

  it('signs a small round inline', async () => {
    signer = new ChainSigner(identity, silentLogger);
    const hashes = Array.from({ length: WORKER_SIGNING_MIN_RECORDS - 1 }, () => randomBytes(32));
    const round = signer.begin(hashes.length);
    for (const h of hashes) round.add(h);
    expect(hex(await round.finish())).toEqual(expected(hashes));
  });

  it('still signs every hash when the worker goes away mid-round', async () => {
    const warnings: unknown[] = [];
    const logger = { ...silentLogger, warn: (obj: object) => void warnings.push(obj) };
    signer = new ChainSigner(identity, logger);
    const hashes = Array.from({ length: 3 * WORKER_SIGNING_CHUNK }, () => randomBytes(32));
    const round = signer.begin(hashes.length);
    for (const h of hashes) round.add(h);
    await signer.close(); // terminates the worker with chunks in flight
    expect(hex(await round.finish())).toEqual(expected(hashes));
    // And later rounds sign inline.
    const later = signer.begin(64);
    const more = [randomBytes(32)];
    later.add(more[0] as Uint8Array);
    expect(hex(await later.finish())).toEqual(expected(more));
  });
});
