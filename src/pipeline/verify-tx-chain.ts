import { createHash } from 'node:crypto';
import { ed25519FromDidKey, verifyEd25519 } from '../auth/server-identity.js';
import { decodeTxBody, type TxRecordBytes } from '../protocol/tx-record.js';
import type { SpaceReadOps } from '../storage/types.js';
import { chainHash } from './tx-chain.js';

/** Where a chain stops being what it claims, and why. */
export interface ChainProblem {
  epoch: number;
  problem: string;
}

export interface ChainReport {
  /** Records checked. */
  checked: number;
  /** Every problem found, in epoch order (at most `maxProblems`). */
  problems: ChainProblem[];
}

export interface ChainExpectations {
  /** The space every body must name. */
  spaceId?: string;
  /** The only DID allowed to have signed. */
  serverDid?: string;
  /** Stop collecting after this many problems (default 100). */
  maxProblems?: number;
}

/** The state a record follows: the previous record, or the empty chain before epoch 1. */
interface Link {
  epoch: number;
  txHash: Uint8Array;
  committedAt: number;
}

const GENESIS: Link = { epoch: 0, txHash: new Uint8Array(32), committedAt: 0 };

/**
 * What is wrong with one record that follows `prev`: dense epochs, the link
 * to the previous hash, the body's hash and content, the chained hash, time
 * that never goes back, and the Ed25519 signature of `txHash` by its
 * `serverDid` (SPEC §1, §3; docs/TX-CHAIN.md). Undefined if nothing.
 */
export function checkTxRecord(
  rec: TxRecordBytes,
  prev: Link,
  expect: ChainExpectations = {},
): string | undefined {
  if (rec.epoch !== prev.epoch + 1) return `epoch ${rec.epoch} follows epoch ${prev.epoch}`;
  if (!equal(rec.prevTxHash, prev.txHash)) return 'prevTxHash is not the previous txHash';
  if (!equal(sha256(rec.body), rec.bodyHash)) return 'bodyHash is not the SHA-256 of the body';
  let body;
  try {
    body = decodeTxBody(rec.body);
  } catch {
    return 'the body is not DAG-CBOR';
  }
  if (body.v !== 1) return `unknown body version ${String(body.v)}`;
  if (body.epoch !== rec.epoch || body.committedAt !== rec.committedAt)
    return 'the body names another epoch or time';
  if (expect.spaceId !== undefined && body.space !== expect.spaceId)
    return `the body names space ${body.space}`;
  if (rec.committedAt < prev.committedAt) return 'committedAt goes back in time';
  if (!equal(chainHash(rec.prevTxHash, rec.bodyHash), rec.txHash))
    return 'txHash is not sha256(prevTxHash ‖ bodyHash)';
  if (expect.serverDid !== undefined && rec.serverDid !== expect.serverDid)
    return `signed by ${rec.serverDid}, not ${expect.serverDid}`;
  let key;
  try {
    key = ed25519FromDidKey(rec.serverDid);
  } catch {
    return `serverDid ${rec.serverDid} is not an Ed25519 did:key`;
  }
  if (!verifyEd25519(key, rec.txHash, rec.serverSig)) return 'the signature does not verify';
  return undefined;
}

/** Follows a chain record by record, collecting what is wrong. */
export class ChainChecker {
  readonly report: ChainReport = { checked: 0, problems: [] };
  private prev: Link = GENESIS;

  constructor(private readonly expect: ChainExpectations = {}) {}

  /** The next record, in epoch order from epoch 1. */
  next(rec: TxRecordBytes): void {
    this.report.checked++;
    const problem = checkTxRecord(rec, this.prev, this.expect);
    if (problem) this.flag(rec.epoch, problem);
    this.prev = { epoch: rec.epoch, txHash: rec.txHash, committedAt: rec.committedAt };
  }

  /** A record that should exist and does not. */
  gap(epoch: number): void {
    this.report.checked++;
    this.flag(epoch, 'the record is missing');
  }

  private flag(epoch: number, problem: string): void {
    if (this.report.problems.length < (this.expect.maxProblems ?? 100)) {
      this.report.problems.push({ epoch, problem });
    }
  }
}

/** Checks records given in epoch order from epoch 1. */
export async function verifyTxRecords(
  records: AsyncIterable<TxRecordBytes> | Iterable<TxRecordBytes>,
  expect: ChainExpectations = {},
): Promise<ChainReport> {
  const checker = new ChainChecker(expect);
  for await (const rec of records) checker.next(rec);
  return checker.report;
}

/** Every stored record of a space, epoch 1 to the tip, checked in order. */
export async function verifySpaceTxChain(
  ops: SpaceReadOps,
  expect: ChainExpectations = {},
): Promise<ChainReport> {
  const checker = new ChainChecker(expect);
  const tip = await ops.chainTip();
  for (let epoch = 1; epoch <= tip.epoch; epoch++) {
    const row = await ops.getTxRecord(epoch);
    if (row) checker.next(row);
    else checker.gap(epoch);
  }
  return checker.report;
}

function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
