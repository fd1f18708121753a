import crypto from 'node:crypto';
import path from 'node:path';
import * as Automerge from '@automerge/automerge';
import * as dagCbor from '@ipld/dag-cbor';
import Database from 'better-sqlite3';
import type { SyncMode } from './raw-sqlite.js';
import { measureLoop, withTempDir, type Phase, type Rate } from './timing.js';
import type { Chain } from './workload.js';

/** The changes of a chain as the base64 strings a client sends (decoding is part of the work). */
type WireChange = string;

/**
 * A second baseline, not a competitor: the least work SPEC §2 asks of one
 * single-change transaction, written inline against raw better-sqlite3 with
 * no engine around it (no request validation, queue, branch rows, receipts,
 * idempotency or error paths). Per transaction: base64-decode and
 * `Automerge.decodeChange` the change (step 5), look up the actor's last seq
 * and check +1, append the log row with its hash index entry and raise the
 * actor seq, encode the tx body as DAG-CBOR, chain-hash it, sign the hash
 * with Ed25519 and append the tx record, then one durable COMMIT.
 *
 * It uses SQLite's default checkpointing (better for small commits than the
 * engine's, which is tuned for ingest), so it is the ceiling any engine could
 * reach on this machine; the distance between it and the engine is the
 * engine's own overhead.
 */
export async function measureSpecFloor(sync: SyncMode, chain: Chain, phase: Phase): Promise<Rate> {
  const wire: WireChange[] = chain.changes.map((c) => Buffer.from(c).toString('base64'));
  const { privateKey } = crypto.generateKeyPairSync('ed25519');
  return withTempDir('cairn-bench-floor-', async (dir) => {
    const db = new Database(path.join(dir, 'floor.sqlite'));
    try {
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${sync === 'full' ? 'FULL' : 'NORMAL'}`);
      db.exec(`
        CREATE TABLE log (seq INTEGER PRIMARY KEY, hash BLOB NOT NULL, hash_key INTEGER NOT NULL,
          actor_seq INTEGER NOT NULL, deps BLOB NOT NULL, epoch INTEGER NOT NULL, bytes BLOB NOT NULL);
        CREATE INDEX log_by_hash ON log (hash_key);
        CREATE TABLE actor_seqs (actor BLOB PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE tx (epoch INTEGER PRIMARY KEY, tx_hash BLOB NOT NULL, prev_tx_hash BLOB NOT NULL,
          body_hash BLOB NOT NULL, server_sig BLOB NOT NULL, body BLOB NOT NULL);`);
      const s = {
        begin: db.prepare('BEGIN IMMEDIATE'),
        commit: db.prepare('COMMIT'),
        actorSeq: db.prepare('SELECT seq FROM actor_seqs WHERE actor = ?').pluck(),
        setActorSeq: db.prepare(
          'INSERT INTO actor_seqs (actor, seq) VALUES (?, ?) ON CONFLICT DO UPDATE SET seq = excluded.seq',
        ),
        log: db.prepare('INSERT INTO log VALUES (?, ?, ?, ?, ?, ?, ?)'),
        tx: db.prepare('INSERT INTO tx VALUES (?, ?, ?, ?, ?, ?)'),
      };
      let next = 0;
      let prevTxHash = Buffer.alloc(32);
      const one = (): void => {
        const i = next % wire.length;
        next++;
        const bytes = Buffer.from(wire[i] as string, 'base64');
        const change = Automerge.decodeChange(bytes);
        const hash = Buffer.from(change.hash as string, 'hex');
        const actor = Buffer.from(change.actor, 'hex');
        s.begin.run();
        const last = (s.actorSeq.get(actor) as number | undefined) ?? 0;
        // The chain restarts when the loop wraps around; only a real gap is an error.
        if (change.seq !== last + 1 && change.seq !== 1) throw new Error('actor seq gap');
        const deps = Buffer.concat(change.deps.map((d) => Buffer.from(d, 'hex')));
        s.log.run(next, hash, hash.readUIntBE(0, 6), change.seq, deps, next, bytes);
        s.setActorSeq.run(actor, change.seq);
        const body = dagCbor.encode({
          v: 1,
          space: 'did:key:z6MkBenchSpaceFoundation',
          epoch: next,
          committedAt: Date.now(),
          writes: [
            {
              docId: chain.docId,
              branch: 'main',
              seqFrom: next,
              seqTo: next,
              newHeads: [change.hash],
              changesHash: crypto.createHash('sha256').update(hash).digest('hex'),
            },
          ],
        });
        const bodyHash = crypto.createHash('sha256').update(body).digest();
        const txHash = crypto.createHash('sha256').update(prevTxHash).update(bodyHash).digest();
        const sig = crypto.sign(null, txHash, privateKey);
        s.tx.run(next, txHash, prevTxHash, bodyHash, sig, body);
        s.commit.run();
        prevTxHash = txHash;
      };
      return measureLoop(phase, one);
    } finally {
      db.close();
    }
  });
}
