import { createHash } from 'node:crypto';
import { CairnError } from '../core/errors.js';
import { rootRef } from '../crdt/heads.js';
import { BASE_CORRUPT, snapshotCheckJob } from '../crdt/kind-jobs.js';
import type { KindWorkers } from '../crdt/kind-workers.js';
import { docKind } from '../crdt/kinds.js';
import { assembleChunks, checkpointStateProblem } from '../crdt/yjs/yjs-checkpoint.js';
import { ChainChecker } from '../pipeline/verify-tx-chain.js';
import { decodeTxBody, isYjsWrite, type TxRecordYjsWrite } from '../protocol/tx-record.js';
import { withSpaceReader } from '../storage/space-access.js';
import type { BranchRecord, SpaceReadOps, StorageBackend } from '../storage/types.js';

/** One thing that does not match, named so an operator can find it. */
export interface VerifyProblem {
  /** `epoch 12`, `doc notes/1 branch main seq 4`, `snapshot 7`. */
  where: string;
  problem: string;
}

export interface VerifyReport {
  space: string;
  ok: boolean;
  checked: { epochs: number; changes: number; snapshots: number };
  /** In the order found (the chain first, epoch by epoch), at most MAX_PROBLEMS. */
  problems: VerifyProblem[];
}

/** Progress of a long verification: `done` of `total` epochs, then snapshots. */
export type VerifyProgress = (phase: 'epochs' | 'snapshots', done: number, total: number) => void;

const MAX_PROBLEMS = 100;
/** Tx records read per storage round trip. */
const RECORDS_PER_READ = 256;
const DOC_PAGE = 500;

/**
 * `cairn verify` (SPEC §8): re-derives what a space's stored data claims,
 * without trusting any of it — every tx record (dense epochs, links, body
 * hash, chained hash, time, signature); for every write of every record, the
 * branch log rows it names (all present, each change's bytes hashing to its
 * stored hash, the writes' `changesHash`, the commit's heads); and every
 * snapshot (its `rootRef` from its heads, its bytes loading to those heads,
 * on a worker thread); Yjs journal rows through the records that name them,
 * and every Yjs checkpoint (chunks, hash, state vector).
 */
export async function verifySpace(
  backend: StorageBackend,
  workers: KindWorkers,
  spaceId: string,
  onProgress: VerifyProgress = () => undefined,
): Promise<VerifyReport> {
  const report: VerifyReport = {
    space: spaceId,
    ok: true,
    checked: { epochs: 0, changes: 0, snapshots: 0 },
    problems: [],
  };
  const flag = (where: string, problem: string) => {
    if (report.problems.length < MAX_PROBLEMS) report.problems.push({ where, problem });
  };
  await withSpaceReader(backend, spaceId, async (ops) => {
    await verifyChain(ops, spaceId, report, flag, onProgress);
    await verifySnapshots(ops, workers, report, flag, onProgress);
    await verifyYjsCheckpoints(ops, report, flag);
  });
  report.ok = report.problems.length === 0;
  return report;
}

type Flag = (where: string, problem: string) => void;

/**
 * Every published checkpoint of every Yjs doc (SPEC §11): its chunks
 * assemble to the recorded count, size and SHA-256, and the state loads to
 * the recorded state vector. Counted with the snapshots.
 */
async function verifyYjsCheckpoints(ops: SpaceReadOps, report: VerifyReport, flag: Flag) {
  let after: string | null = null;
  for (;;) {
    const docIds = await ops.yjs.listDocIds('', after, DOC_PAGE);
    for (const docId of docIds) {
      for (const cp of await ops.yjs.checkpoints(docId)) {
        report.checked.snapshots++;
        const where = `yjs doc ${docId} checkpoint ${cp.generation} (epoch ${cp.epoch})`;
        const got = assembleChunks(await ops.yjs.readChunks(docId, cp.generation), cp);
        const problem =
          'problem' in got ? got.problem : checkpointStateProblem(got.state, cp.stateVector);
        if (problem) flag(where, problem);
      }
    }
    if (docIds.length < DOC_PAGE) return;
    after = docIds.at(-1) as string;
  }
}

async function verifyChain(
  ops: SpaceReadOps,
  spaceId: string,
  report: VerifyReport,
  flag: Flag,
  onProgress: VerifyProgress,
): Promise<void> {
  const checker = new ChainChecker({ spaceId, maxProblems: MAX_PROBLEMS });
  const branches = new Map<string, BranchRecord | undefined>();
  const tip = (await ops.chainTip()).epoch;
  let epoch = 1;
  while (epoch <= tip) {
    // A page of records by primary key; an epoch missing from it is a gap.
    const page = await ops.txRecordsAfter(epoch - 1, tip, RECORDS_PER_READ);
    const byEpoch = new Map(page.map((r) => [r.epoch, r]));
    const last = page.length > 0 ? Math.max(...page.map((r) => r.epoch)) : tip;
    for (; epoch <= last; epoch++) {
      const row = byEpoch.get(epoch);
      const before = checker.report.problems.length;
      if (row) checker.next(row);
      else checker.gap(epoch);
      for (const p of checker.report.problems.slice(before)) flag(`epoch ${p.epoch}`, p.problem);
      if (row && checker.report.problems.length === before) {
        report.checked.changes += await verifyWrites(ops, branches, epoch, row.body, flag);
      }
      report.checked.epochs++;
    }
    onProgress('epochs', epoch - 1, tip);
  }
}

/** The log rows each write of one record names; returns how many changes were checked. */
async function verifyWrites(
  ops: SpaceReadOps,
  branches: Map<string, BranchRecord | undefined>,
  epoch: number,
  bodyBytes: Uint8Array,
  flag: Flag,
): Promise<number> {
  let checked = 0;
  for (const w of decodeTxBody(bodyBytes).writes) {
    if (isYjsWrite(w)) {
      checked += await verifyYjsWrite(ops, epoch, w, flag);
      continue;
    }
    const where = `epoch ${epoch}: doc ${w.docId} branch ${w.branch}`;
    const key = JSON.stringify([w.docId, w.branch]);
    if (!branches.has(key)) branches.set(key, await ops.getBranch(w.docId, w.branch));
    const branch = branches.get(key);
    if (!branch) {
      flag(where, 'the branch is missing');
      continue;
    }
    const kind = docKind(branch.kind);
    const count = w.seqTo - w.seqFrom + 1;
    const rows = await ops.readBranchLog(branch.id, w.seqFrom, w.seqTo, count, true);
    if (rows.length !== count) {
      flag(
        where,
        `seqs ${w.seqFrom}-${w.seqTo}: ${count - rows.length} of ${count} log rows are missing`,
      );
      continue;
    }
    for (const row of rows) {
      checked++;
      const problem = changeProblem(kind, row.hash, row.bytes);
      if (problem) flag(`${where} seq ${row.seq}`, problem);
    }
    if (kind.contentDigest(rows) !== w.changesHash)
      flag(where, 'the changes do not match the record’s changesHash');
    const commit = await ops.commitCovering(branch.id, w.seqTo);
    if (!commit || commit.epoch !== epoch || commit.seqTo !== w.seqTo) {
      flag(where, `no commit of epoch ${epoch} ends at seq ${w.seqTo}`);
    } else if ([...commit.heads].sort().join() !== [...w.newHeads].sort().join()) {
      flag(where, 'the commit’s heads are not the record’s newHeads');
    }
  }
  return checked;
}

/**
 * A Yjs update of the record: its journal row (hash of the bytes, length),
 * or — for an oversized update, or a row removed by retention — a
 * published checkpoint at or after its epoch. Returns 1 when a row was checked.
 */
async function verifyYjsWrite(
  ops: SpaceReadOps,
  epoch: number,
  w: TxRecordYjsWrite,
  flag: Flag,
): Promise<number> {
  const where = `epoch ${epoch}: yjs doc ${w.docId}`;
  const [row] = await ops.yjs.journal(w.docId, epoch - 1, epoch, 1);
  if (!row) {
    const covered = (await ops.yjs.checkpoints(w.docId)).some((c) => c.epoch >= epoch);
    if (!covered) flag(where, 'neither a journal row nor a checkpoint holds the update');
    return 0;
  }
  const hash = createHash('sha256').update(row.bytes).digest('hex');
  if (hash !== Buffer.from(row.hash).toString('hex')) {
    flag(where, 'the journal row’s bytes do not hash to its stored hash');
  } else if (hash !== w.updateHash || row.bytes.byteLength !== w.bytes) {
    flag(where, 'the journal row is not the update the record names');
  }
  return 1;
}

function changeProblem(
  kind: ReturnType<typeof docKind>,
  hash: string,
  bytes: Uint8Array | undefined,
): string | undefined {
  if (!bytes) return 'the change bytes are missing';
  try {
    const decoded = kind.decodeChange(bytes);
    return decoded.hash === hash ? undefined : `the bytes hash to ${decoded.hash}, not ${hash}`;
  } catch (err) {
    return `the bytes are not a valid change: ${err instanceof CairnError ? err.message : String(err)}`;
  }
}

async function verifySnapshots(
  ops: SpaceReadOps,
  workers: KindWorkers,
  report: VerifyReport,
  flag: Flag,
  onProgress: VerifyProgress,
): Promise<void> {
  let after: string | null = null;
  for (;;) {
    const docs = await ops.listDocIds('', after, DOC_PAGE);
    for (const docId of docs) {
      for (const branch of await ops.listBranches(docId)) {
        for (const meta of await ops.listSnapshots(branch.id)) {
          report.checked.snapshots++;
          const where = `snapshot ${meta.id} (doc ${docId} branch ${branch.name} seq ${meta.seq})`;
          if (rootRef([...meta.heads].sort()) !== meta.rootRef)
            flag(where, 'its rootRef is not that of its heads');
          const saved = await ops.readSnapshotBytes(meta.id);
          if (!saved) {
            flag(where, 'its bytes are missing');
            continue;
          }
          const job = snapshotCheckJob(saved, meta.heads);
          try {
            await workers.run(docKind(branch.kind), job, saved.byteLength);
          } catch (err) {
            const code = (err as { code?: string }).code;
            flag(
              where,
              code === BASE_CORRUPT
                ? (err as Error).message
                : `does not load: ${(err as Error).message}`,
            );
          }
          onProgress('snapshots', report.checked.snapshots, report.checked.snapshots);
        }
      }
    }
    if (docs.length < DOC_PAGE) return;
    after = docs.at(-1) as string;
  }
}
