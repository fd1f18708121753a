import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { measureRawPgOneRowPerTx } from '../../bench/lib/raw-pg.js';
import { measureRawOneRowPerTx } from '../../bench/lib/raw-sqlite.js';
import type { Phase } from '../../bench/lib/timing.js';
import { startPgCluster, type PgCluster } from '../../test/helpers/postgres-cluster.js';
import type { ServerStore } from './server.js';

export const BACKENDS = ['sqlite', 'postgres'] as const;
export type BackendKind = (typeof BACKENDS)[number];

/** A machine baseline measured in the same run. */
export interface Baseline {
  /** e.g. "raw SQLite". */
  name: string;
  commitsPerSecond: number;
  /** How it was measured. */
  how: string;
}

/** Where a run's server keeps its data, what it promises, and how to remove it. */
export interface Backend {
  kind: BackendKind;
  store: ServerStore;
  /** One line: the store and its durability. */
  describe: string;
  baselines: Baseline[];
  close(): Promise<void>;
}

const ROW = [new Uint8Array(1024).fill(7)];
const BASELINE_PHASE: Phase = {
  warmup: { maxOps: 300, seconds: 0.3 },
  measure: { maxOps: 200_000, seconds: 2 },
};

/**
 * The machine's durable-commit rate: better-sqlite3 single-row transactions
 * (1 KiB row), WAL, synchronous=FULL, in a temp dir (bench/lib/raw-sqlite.ts).
 */
export async function rawSqliteBaseline(): Promise<Baseline> {
  const rate = await measureRawOneRowPerTx('full', ROW, BASELINE_PHASE);
  return {
    name: 'raw SQLite',
    commitsPerSecond: rate.perSecond,
    how: 'better-sqlite3, WAL, synchronous=FULL, one 1 KiB row per transaction, one writer, 2 s, temp dir',
  };
}

async function withAdmin<T>(cluster: PgCluster, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: cluster.adminUrl });
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.end();
  }
}

function dbUrl(cluster: PgCluster, name: string): string {
  const url = new URL(cluster.adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Opens the store for `kind`; the raw SQLite baseline is measured by the caller. */
export async function openBackend(kind: BackendKind): Promise<Backend> {
  if (kind === 'sqlite') {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-loadgen-'));
    return {
      kind,
      store: { kind: 'sqlite', dataDir },
      describe: `SQLite in ${dataDir}, cairn serve --sync full (synchronous=FULL: every answer after its durable commit)`,
      baselines: [],
      close: async () => fs.rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  const cluster = await startPgCluster({ durable: true });
  try {
    const settings = await withAdmin(cluster, async (admin) => {
      await admin.query('CREATE DATABASE cairn_loadgen');
      await admin.query('CREATE DATABASE raw_baseline');
      const show = async (name: string) =>
        String(((await admin.query(`SHOW ${name}`)).rows[0] as Record<string, unknown>)[name]);
      return {
        version: await show('server_version'),
        fsync: await show('fsync'),
        synchronousCommit: await show('synchronous_commit'),
        fullPageWrites: await show('full_page_writes'),
      };
    });
    if (settings.fsync !== 'on' || settings.synchronousCommit !== 'on') {
      throw new Error(`the PostgreSQL cluster is not durable: ${JSON.stringify(settings)}`);
    }
    const raw = await measureRawPgOneRowPerTx(
      dbUrl(cluster, 'raw_baseline'),
      ROW,
      BASELINE_PHASE,
      1,
    );
    return {
      kind,
      store: { kind: 'postgres', url: dbUrl(cluster, 'cairn_loadgen') },
      describe:
        `PostgreSQL ${settings.version} throwaway cluster on 127.0.0.1:${cluster.port}, ` +
        `fsync=${settings.fsync}, synchronous_commit=${settings.synchronousCommit}, ` +
        `full_page_writes=${settings.fullPageWrites} (every answer after its durable commit)`,
      baselines: [
        {
          name: 'raw PostgreSQL',
          commitsPerSecond: raw.perSecond,
          how: 'pg, one connection, BEGIN; INSERT one 1 KiB row; COMMIT, 2 s, same cluster',
        },
      ],
      close: async () => cluster.stop(),
    };
  } catch (err) {
    cluster.stop();
    throw err;
  }
}
