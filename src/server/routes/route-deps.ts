import type { Authorizer } from '../../auth/authorizer.js';
import type { Limits } from '../../core/limits.js';
import type { Logger } from '../../core/logger.js';
import type { BranchService } from '../../history/branch-service.js';
import type { ImportService } from '../../history/import-doc.js';
import type { ServerMerge } from '../../history/server-merge.js';
import type { SnapshotService } from '../../history/snapshot-service.js';
import type { CommitPipeline } from '../../pipeline/commit-pipeline.js';
import type { LiveHub } from '../../live/live-hub.js';
import type { ReadApi } from '../../read/read-api.js';
import type { TxBodyParser } from '../tx-body-parser.js';
import type { KvRateLimiter } from '../../kv/kv-rate-limit.js';
import type { KvService } from '../../kv/kv-service.js';
import type { YjsHub } from '../../yjs/yjs-hub.js';
import type { YjsReader } from '../../yjs/yjs-read.js';

/** What the HTTP routes need from the engine: wire-level services only, no storage. */
export interface RouteDeps {
  /** Checks every route's UCAN (SPEC §7) before its handler runs. */
  authorizer: Authorizer;
  pipeline: CommitPipeline;
  read: ReadApi;
  branches: BranchService;
  imports: ImportService;
  snapshots: SnapshotService;
  merge: ServerMerge;
  limits: Limits;
  /** Yjs documents (SPEC §11): the docs in memory, and reads from storage. */
  yjs: { hub: YjsHub; reader: YjsReader };
  /** Extension KV storage (SPEC §12). */
  kv: KvService;
  /** Per-install KV rate limits; undefined: off (the default). */
  kvRates?: KvRateLimiter;
  /** Live feeds per space (the SSE route subscribes through it). */
  hub: LiveHub;
  /** Parses big transaction bodies on a worker thread. */
  txBodies: TxBodyParser;
  /** The package version (for /openapi.json). */
  version: string;
  /** Origins allowed by CORS (`*` for any); none: CORS off. */
  corsOrigins?: readonly string[];
  /** The operations endpoints' sources (SPEC §8). */
  operations: {
    /** Prometheus text. */
    metrics(): Promise<string>;
    /** Whether storage takes writes now, and if not why (no tenant data). */
    readiness(): Promise<{ ready: boolean; reasons: string[] }>;
    debug(): Promise<Record<string, unknown>>;
  };
  /** The admin routes' work; undefined: admin routes are off (SPEC §8: 404, no work). */
  admin?: {
    rebuildCaches(space: string): Promise<void>;
    closeConnections(space: string): number;
  };
  /** True once the engine was closed: every request then answers 503. */
  isClosed: () => boolean;
  logger: Logger;
}
