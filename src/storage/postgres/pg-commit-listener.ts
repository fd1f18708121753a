import pg from 'pg';
import type { Logger } from '../../core/logger.js';
import type { CommitWatcher } from '../types.js';
import { COMMITS_CHANNEL } from './pg-space-store.js';

/** Reconnect delays after the LISTEN connection drops: doubling, capped. */
const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 5_000;
/** The LISTEN connection's name in pg_stat_activity (operators and tests find it by it). */
export const LISTENER_APPLICATION_NAME = 'cairn-commit-listener';

/**
 * One dedicated connection per process that LISTENs for the commits other
 * processes announce (`SELECT pg_notify(…); COMMIT` in pg-space-store.ts).
 * When it drops it reconnects, doubling its delay up to 5 s, and then asks
 * for a resync: notifications sent while it was away are lost, so readers
 * re-read the current epochs (a catch-up read by epoch misses nothing).
 */
export class PgCommitListener {
  private client: pg.Client | undefined;
  private stopped = false;
  private retryMs = RETRY_FIRST_MS;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly connectionString: string,
    private readonly watcher: CommitWatcher,
    private readonly logger: Logger,
  ) {}

  /** Connects and listens; resolves once listening (or after the first failure, retrying). */
  async start(): Promise<void> {
    await this.connect(false);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connect(isRetry: boolean): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({
      connectionString: this.connectionString,
      application_name: LISTENER_APPLICATION_NAME,
    });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client));
    client.on('notification', (msg) => this.notified(msg.payload));
    try {
      await client.connect();
      await client.query(`LISTEN ${COMMITS_CHANNEL}`);
    } catch (err) {
      this.lost(client, err as Error);
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.retryMs = RETRY_FIRST_MS;
    // What was committed while no one listened is read back by epoch.
    if (isRetry) this.watcher.resync();
  }

  private lost(client: pg.Client, err?: Error): void {
    if (this.stopped || (this.client !== undefined && this.client !== client)) return;
    if (this.client === client) this.client = undefined;
    else if (this.timer) return; // already retrying
    this.logger.warn({ err, retryMs: this.retryMs }, 'commit listener connection lost');
    client.removeAllListeners('end');
    client.end().catch(() => undefined);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.connect(true);
    }, this.retryMs);
    this.timer.unref();
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }

  private notified(payload: string | undefined): void {
    const space = payload?.indexOf(' ') ?? -1;
    if (!payload || space < 1) return;
    const epoch = Number(payload.slice(0, space));
    if (!Number.isSafeInteger(epoch)) return;
    this.watcher.commit(payload.slice(space + 1), epoch);
  }
}
