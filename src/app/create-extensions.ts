import type { Authorizer } from '../auth/authorizer.js';
import type { Limits } from '../core/limits.js';
import type { Logger } from '../core/logger.js';
import { DEFAULT_KV_LIMITS, type KvLimits } from '../kv/kv-limits.js';
import { KvRateLimiter, type KvRateLimits } from '../kv/kv-rate-limit.js';
import { KvService } from '../kv/kv-service.js';
import { KvSweeper } from '../kv/kv-sweeper.js';
import type { CommitPipeline } from '../pipeline/commit-pipeline.js';
import { createYjsEndpoint } from '../server/yjs-upgrade.js';
import type { StorageBackend } from '../storage/types.js';
import type { YjsLegacyConfig } from '../yjs/legacy-migration.js';
import { YjsHub } from '../yjs/yjs-hub.js';
import { DEFAULT_YJS_LIMITS, type YjsLimits } from '../yjs/yjs-limits.js';

export interface ExtensionOptions {
  yjs?: Partial<YjsLimits>;
  yjsLegacy?: YjsLegacyConfig;
  kv?: Partial<KvLimits>;
  kvRateLimits?: KvRateLimits;
  clock?: () => number;
  basePath?: string;
}

/**
 * The parts of a cairn beside the Automerge engine: Yjs docs (SPEC §11:
 * the hub, its y-websocket endpoint) and extension KV storage (SPEC §12:
 * the service, its background sweep, per-install rate limits when
 * configured), over the same backend and writer queues.
 */
export function createExtensions(
  deps: {
    backend: StorageBackend;
    pipeline: CommitPipeline;
    authorizer: Authorizer;
    logger: Logger;
    limits: Limits;
  },
  options: ExtensionOptions,
) {
  const { backend, pipeline, authorizer, logger, limits } = deps;
  const yjs = new YjsHub({
    backend,
    pipeline,
    limits: { ...DEFAULT_YJS_LIMITS, ...options.yjs },
    ...(options.yjsLegacy ? { legacy: options.yjsLegacy } : {}),
    logger,
  });
  const yjsSockets = createYjsEndpoint(
    { hub: yjs, authorizer, logger, maxFrameBytes: limits.maxFrameBytes },
    options.basePath,
  );
  const kv = new KvService(
    backend,
    pipeline,
    { ...DEFAULT_KV_LIMITS, ...options.kv },
    options.clock,
  );
  const kvSweeper = new KvSweeper(backend, kv, logger, options.clock);
  kv.onWrite = (space) => kvSweeper.touched(space);
  const kvRates = options.kvRateLimits
    ? new KvRateLimiter(options.kvRateLimits, options.clock)
    : undefined;
  return {
    yjs,
    yjsSockets,
    kv,
    kvSweeper,
    kvRates,
    /** After the sockets closed: queued Yjs updates commit, relay-mode docs try a last checkpoint. */
    async close(): Promise<void> {
      await yjs.close();
      await kvSweeper.close();
    },
  };
}
