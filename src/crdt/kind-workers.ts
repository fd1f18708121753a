import type { Logger } from '../core/logger.js';
import type { DocKind } from './doc-kind.js';
import type { KindJob } from './kind-jobs.js';
import { WorkerPool } from './worker-pool.js';

/**
 * The worker threads of one purpose (reads, background work), one per
 * document kind, started on first use. Separate purposes get separate
 * threads, so a read never waits behind a snapshot build.
 */
export class KindWorkers {
  private readonly pools = new Map<string, WorkerPool<KindJob, unknown>>();

  constructor(
    private readonly purpose: string,
    private readonly logger: Logger,
  ) {}

  /** Runs a job on the kind's worker; `weight` (bytes handled) lets a heavy one recycle it. */
  run<R>(kind: DocKind, job: KindJob, weight = 0): Promise<R> {
    let pool = this.pools.get(kind.name);
    if (!pool) {
      pool = new WorkerPool<KindJob, unknown>({
        moduleUrl: kind.workerModule,
        name: `${kind.name}-${this.purpose}`,
        logger: this.logger,
      });
      this.pools.set(kind.name, pool);
    }
    return pool.run(job, { weight }) as Promise<R>;
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close()));
  }
}
