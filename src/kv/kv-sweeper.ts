import type { Logger } from '../core/logger.js';
import { LruMap } from '../core/lru-map.js';
import { withSpaceReader } from '../storage/space-access.js';
import type { StorageBackend } from '../storage/types.js';
import type { KvService } from './kv-service.js';

/** How often the sweep runs, how many installs one run cleans, and spaces it remembers. */
const SWEEP_EVERY_MS = 60_000;
const INSTALLS_PER_SWEEP = 16;
const SPACES_KEPT = 1024;
/** Expired rows counted per space at most, for the pending gauge. */
const PENDING_CAP = 100_000;

/**
 * The bounded background part of KV TTL cleanup (SPEC §12): every minute,
 * in the spaces with recent KV writes, up to 16 installs with expired
 * records each remove up to 100 of them (through the normal write path:
 * counters and revision floors stay exact). Also counts what is pending
 * for `cairn_kv_ttl_expired_rows_pending`.
 */
export class KvSweeper {
  private readonly spaces = new LruMap<string, true>(SPACES_KEPT);
  private readonly timer: NodeJS.Timeout;
  private running: Promise<void> | undefined;

  constructor(
    private readonly backend: StorageBackend,
    private readonly kv: KvService,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.timer = setInterval(() => void this.sweep(), SWEEP_EVERY_MS);
    this.timer.unref();
  }

  /** A KV write happened in this space: it is swept from now on. */
  touched(space: string): void {
    this.spaces.set(space, true);
  }

  /** One sweep (never two at once). */
  sweep(): Promise<void> {
    this.running ??= this.run().finally(() => (this.running = undefined));
    return this.running;
  }

  /** Expired rows still stored in the remembered spaces (capped per space). */
  async pending(): Promise<number> {
    let n = 0;
    for (const space of this.spaces.keys()) {
      n += await withSpaceReader(this.backend, space, (ops) =>
        ops.kv.countExpired(this.now(), PENDING_CAP),
      ).catch(() => 0);
    }
    return n;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  private async run(): Promise<void> {
    let budget = INSTALLS_PER_SWEEP;
    for (const space of this.spaces.keys()) {
      if (budget <= 0) return;
      try {
        const installs = await withSpaceReader(this.backend, space, (ops) =>
          ops.kv.installsWithExpired(this.now(), budget),
        );
        for (const install of installs) await this.kv.sweep(space, install);
        budget -= installs.length;
      } catch (err) {
        this.logger.warn({ err }, 'KV sweep of a space failed');
      }
    }
  }
}
