import { createHash } from 'node:crypto';
import * as dagCbor from '@ipld/dag-cbor';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ed25519FromDidKey,
  identityFromSeed,
  verifyEd25519,
} from '../../src/auth/server-identity.js';
import { WORKER_SIGNING_MIN_RECORDS } from '../../src/auth/chain-signer.js';
import { decodeTxBody } from '../../src/protocol/tx-record.js';
import { hashOf, Replica, write } from '../helpers/changes.js';
import { SPACE, startEngine, TEST_SERVER_KEY, type TestEngine } from '../helpers/engine.js';

const sha256 = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

describe('tx chain', () => {
  let engine: TestEngine;
  beforeEach(async () => {
    engine = await startEngine();
  });
  afterEach(async () => {
    await engine.close();
  });

  it('links every commit to the previous one, signed by the server key', async () => {
    const r = new Replica(1);
    const sent: string[][] = [];
    let heads: string[] = [];
    for (let i = 0; i < 4; i++) {
      const batch = [r.change((d) => void (d.i = i)), r.change((d) => void (d.j = i))];
      sent.push(batch.map(hashOf));
      const receipt = await engine.ok({ writes: [write('a', batch, heads)] });
      heads = receipt.results[0]?.newHeads ?? [];
    }
    const did = identityFromSeed(Buffer.from(TEST_SERVER_KEY, 'base64url')).did;
    let prev: Uint8Array = new Uint8Array(32);
    for (let epoch = 1; epoch <= 4; epoch++) {
      const row = await engine.cairn.reader.txRecord(SPACE, epoch);
      const body = decodeTxBody(row.body);
      // The body is re-encodable from its JSON form: that is what an offline auditor does.
      const reencoded = dagCbor.encode(JSON.parse(JSON.stringify(body)));
      expect(Buffer.from(sha256(reencoded)).toString('hex')).toBe(
        Buffer.from(row.bodyHash).toString('hex'),
      );
      expect(Buffer.from(row.prevTxHash)).toEqual(Buffer.from(prev));
      expect(Buffer.from(row.txHash)).toEqual(Buffer.from(sha256(prev, row.bodyHash)));
      expect(row.serverDid).toBe(did);
      expect(verifyEd25519(ed25519FromDidKey(row.serverDid), row.txHash, row.serverSig)).toBe(true);
      expect(body).toMatchObject({ v: 1, space: SPACE, epoch, committedAt: row.committedAt });
      const w = body.writes[0];
      expect(w).toMatchObject({
        docId: 'a',
        branch: 'main',
        seqFrom: epoch * 2 - 1,
        seqTo: epoch * 2,
      });
      const raw = (sent[epoch - 1] as string[]).map((h) => Buffer.from(h, 'hex'));
      expect(w?.changesHash).toBe(Buffer.from(sha256(...raw)).toString('hex'));
      prev = row.txHash;
    }
  });

  it('signs every record of a big group-commit batch, as signed off the main thread', async () => {
    const sizes: number[] = [];
    engine.cairn.pipeline.onCommitted((committed) => sizes.push(committed.length));
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        engine.ok({
          writes: [write(`doc-${i}`, [new Replica(i + 1).change((d) => void (d.i = i))])],
        }),
      ),
    );
    // The worker signs batches of at least WORKER_SIGNING_MIN_RECORDS records.
    expect(Math.max(...sizes)).toBeGreaterThanOrEqual(WORKER_SIGNING_MIN_RECORDS);
    const did = identityFromSeed(Buffer.from(TEST_SERVER_KEY, 'base64url')).did;
    let prev: Uint8Array = new Uint8Array(32);
    for (let epoch = 1; epoch <= 40; epoch++) {
      const row = await engine.cairn.reader.txRecord(SPACE, epoch);
      expect(Buffer.from(row.prevTxHash)).toEqual(Buffer.from(prev));
      expect(row.serverDid).toBe(did);
      expect(verifyEd25519(ed25519FromDidKey(did), row.txHash, row.serverSig)).toBe(true);
      prev = row.txHash;
    }
  });

  it('detects a tampered body: the signature no longer matches', async () => {
    const r = new Replica(1);
    await engine.ok({ writes: [write('a', [r.change((d) => void (d.x = 1))])] });
    const row = await engine.cairn.reader.txRecord(SPACE, 1);
    const body = decodeTxBody(row.body);
    const forged = dagCbor.encode({ ...body, committedAt: body.committedAt + 1 });
    const forgedTxHash = sha256(row.prevTxHash, sha256(forged));
    expect(verifyEd25519(ed25519FromDidKey(row.serverDid), forgedTxHash, row.serverSig)).toBe(
      false,
    );
  });

  it('keeps the same server identity across restarts when none is given', async () => {
    const plain = await startEngine({ serverKey: undefined });
    try {
      const first = plain.cairn.identity.did;
      await plain.reopen();
      expect(plain.cairn.identity.did).toBe(first);
      expect(first).toMatch(/^did:key:z6Mk/);
    } finally {
      await plain.close();
    }
  });
});
