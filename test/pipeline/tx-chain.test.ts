import { createHash } from 'node:crypto';
import * as dagCbor from '@ipld/dag-cbor';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { identityFromSeed } from '../../src/auth/server-identity.js';
import { WORKER_SIGNING_MIN_RECORDS } from '../../src/auth/chain-signer.js';
import {
  verifySpaceTxChain,
  verifyTxRecords,
  type ChainReport,
} from '../../src/pipeline/verify-tx-chain.js';
import {
  decodeTxBody,
  type TxRecordBytes,
  type TxRecordWrite,
} from '../../src/protocol/tx-record.js';
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

  /** The stored chain of the test space, checked by the one verifier. */
  async function verifyStored(): Promise<ChainReport> {
    const did = identityFromSeed(Buffer.from(TEST_SERVER_KEY, 'base64url')).did;
    return engine.cairn.reader.withSpace(SPACE, (ops) =>
      verifySpaceTxChain(ops, { spaceId: SPACE, serverDid: did }),
    );
  }

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
    expect(await verifyStored()).toEqual({ checked: 4, problems: [] });
    for (let epoch = 1; epoch <= 4; epoch++) {
      const row = await engine.cairn.reader.txRecord(SPACE, epoch);
      const body = decodeTxBody(row.body);
      // The body is re-encodable from its JSON form: that is what an offline auditor does.
      const reencoded = dagCbor.encode(JSON.parse(JSON.stringify(body)));
      expect(Buffer.from(sha256(reencoded)).toString('hex')).toBe(
        Buffer.from(row.bodyHash).toString('hex'),
      );
      expect(body).toMatchObject({ v: 1, space: SPACE, epoch, committedAt: row.committedAt });
      const w = body.writes[0] as TxRecordWrite | undefined;
      expect(w).toMatchObject({
        docId: 'a',
        branch: 'main',
        seqFrom: epoch * 2 - 1,
        seqTo: epoch * 2,
      });
      const raw = (sent[epoch - 1] as string[]).map((h) => Buffer.from(h, 'hex'));
      expect(w?.changesHash).toBe(Buffer.from(sha256(...raw)).toString('hex'));
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
    expect(await verifyStored()).toEqual({ checked: 40, problems: [] });
  });

  it('the verifier names the first record that does not match, for each kind of tampering', async () => {
    const r = new Replica(1);
    let heads: string[] = [];
    for (let i = 0; i < 3; i++) {
      const receipt = await engine.ok({
        writes: [write('a', [r.change((d) => void (d.i = i))], heads)],
      });
      heads = receipt.results[0]?.newHeads ?? [];
    }
    const rows = await Promise.all([1, 2, 3].map((e) => engine.cairn.reader.txRecord(SPACE, e)));
    const did = rows[0]?.serverDid as string;
    const firstProblem = async (mutate: (rows: TxRecordBytes[]) => TxRecordBytes[]) => {
      const copy = rows.map((x) => ({ ...x, body: Uint8Array.from(x.body) }));
      return (await verifyTxRecords(mutate(copy), { spaceId: SPACE, serverDid: did })).problems[0];
    };
    expect(await firstProblem((x) => x)).toBeUndefined();
    const at2 = (change: (rec: TxRecordBytes) => TxRecordBytes) => (x: TxRecordBytes[]) =>
      x.map((rec) => (rec.epoch === 2 ? change(rec) : rec));
    const flip = (b: Uint8Array) => Uint8Array.from(b, (v, i) => (i === 0 ? v ^ 1 : v));
    const cases: [string, (x: TxRecordBytes[]) => TxRecordBytes[], RegExp][] = [
      ['a flipped body byte', at2((rec) => ({ ...rec, body: flip(rec.body) })), /bodyHash/],
      [
        'a forged body with its own hashes',
        at2((rec) => {
          const body = dagCbor.encode({
            ...decodeTxBody(rec.body),
            committedAt: rec.committedAt + 1,
          });
          return {
            ...rec,
            committedAt: rec.committedAt + 1,
            body,
            bodyHash: sha256(body),
            txHash: sha256(rec.prevTxHash, sha256(body)),
          };
        }),
        /signature/,
      ],
      [
        'a flipped signature',
        at2((rec) => ({ ...rec, serverSig: flip(rec.serverSig) })),
        /signature/,
      ],
      ['a wrong link', at2((rec) => ({ ...rec, prevTxHash: flip(rec.prevTxHash) })), /prevTxHash/],
      ['a missing record', (x) => x.filter((rec) => rec.epoch !== 2), /epoch 3 follows epoch 1/],
      ['another signer', at2((rec) => ({ ...rec, serverDid: 'did:key:z6MkOther' })), /signed by/],
    ];
    for (const [name, mutate, why] of cases) {
      const problem = await firstProblem(mutate);
      expect(problem?.problem, name).toMatch(why);
      expect(problem?.epoch, name).toBe(name === 'a missing record' ? 3 : 2);
    }
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
