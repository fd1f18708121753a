import type { Hono } from 'hono';
import { loadServerIdentity, type ServerIdentity } from '../auth/server-identity.js';
import { parseSpaceId } from '../core/ids.js';
import { resolveLimits, type Limits } from '../core/limits.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { CommitPipeline } from '../pipeline/commit-pipeline.js';
import type { Invariant } from '../pipeline/invariants.js';
import { BranchService } from '../history/branch-service.js';
import { ServerMerge } from '../history/server-merge.js';
import type { SnapshotPolicy } from '../history/snapshot-policy.js';
import { ImportService } from '../history/import-doc.js';
import { QuarantineService } from '../history/quarantine-service.js';
import { SnapshotService } from '../history/snapshot-service.js';
import { KindWorkers } from '../crdt/kind-workers.js';
import { AckRecorder } from '../live/ack-recorder.js';
import { LiveHub } from '../live/live-hub.js';
import { kvOfSpace, type KvSpace } from '../kv/kv-space.js';
import { createExtensions } from './create-extensions.js';
import type { KvService } from '../kv/kv-service.js';
import type { YjsHub } from '../yjs/yjs-hub.js';
import type { KvLimits } from '../kv/kv-limits.js';
import type { KvRateLimits } from '../kv/kv-rate-limit.js';
import type { YjsLimits } from '../yjs/yjs-limits.js';
import { YjsReader } from '../yjs/yjs-read.js';
import type { YjsLegacyConfig } from '../yjs/legacy-migration.js';
import { EpochFeed } from '../read/epoch-feed.js';
import { createHttpApp } from '../server/http-app.js';
import {
  createLiveEndpoint,
  type LiveEndpoint,
  type UpgradeHandler,
} from '../server/live-upgrade.js';
import { TxBodyParser } from '../server/tx-body-parser.js';
import { CAIRN_VERSION } from './version.js';
import { createOperations } from './operations.js';
import { Authorizer, type AuthMode } from '../auth/authorizer.js';
import { UcanVerifier, ucanLimits } from '../auth/ucan-verifier.js';
import { DocCache } from '../read/doc-cache.js';
import { DocReader } from '../read/doc-reader.js';
import { createReadApi, type ReadApi } from '../read/read-api.js';
import { PgBackend } from '../storage/postgres/pg-backend.js';
import { SqliteBackend } from '../storage/sqlite/sqlite-backend.js';
import type { SqliteSync } from '../storage/sqlite/sqlite-space-store.js';
import type { StorageBackend } from '../storage/types.js';

export interface CairnOptions {
  /** SQLite data directory (default `./data`). */
  dataDir?: string;
  /** `postgres://…`: use PostgreSQL instead of SQLite. */
  databaseUrl?: string;
  /** `full` (default) fsyncs every commit; `normal` survives process crashes but not power loss. */
  sync?: SqliteSync;
  /** The server's Ed25519 seed (base64url or hex); default: kept in the data dir. */
  serverKey?: string;
  limits?: Partial<Limits>;
  logger?: Logger;
  /** Serve the routes under this prefix (e.g. `/api/storage/new`). */
  basePath?: string;
  /** Wall clock in ms (default Date.now); commit times and receipt retention use it. */
  clock?: () => number;
  /** Server merges (SPEC §4); default off (`FeatureDisabled`). */
  enableServerMerge?: boolean;
  /** Limits of extension KV storage (SPEC §10, §12). */
  kv?: Partial<KvLimits>;
  /** Per-install KV rate limits (SPEC §12); default off. */
  kvRateLimits?: KvRateLimits;
  /** Limits of Yjs documents (SPEC §11): oversized updates, compaction, retention. */
  yjs?: Partial<YjsLimits>;
  /**
   * Lazy migration (SPEC §11): docs of `space` move in from `source` (a
   * legacy Yjs store, read-only: `openLegacySource`) the first time they are
   * opened; cairn closes the source on `close()`.
   */
  yjsLegacy?: YjsLegacyConfig;
  /** Default snapshot policy (SPEC §5); per space with `snapshots.setPolicy`. */
  snapshotPolicy?: Partial<SnapshotPolicy>;
  /** Origins browsers may call the API from (CORS; `*` for any). Default: none (CORS off). */
  corsOrigins?: readonly string[];
  /**
   * `required` (default): every route and live session needs a UCAN (SPEC §7,
   * docs/AUTH.md); `off`: everything is allowed — for a host that does its
   * own auth in front of cairn, or a loopback-only server.
   */
  auth?: AuthMode;
  /** Prometheus metrics at `GET /metrics` (default on; off: the route answers an empty page). */
  metrics?: boolean;
  /** The admin routes of SPEC §8 (`CAIRN_ENABLE_ADMIN_ROUTES=1`); default off: 404, no work. */
  enableAdminRoutes?: boolean;
}

/** An embeddable cairn: the HTTP handler plus the engine behind it. */
export interface Cairn {
  /** Fetch-style handler for the routes of SPEC §2-§3. */
  fetch: (request: Request) => Response | Promise<Response>;
  /**
   * The WebSocket endpoint of SPEC §6 (`GET {basePath}/v1/:space/ws`) as a
   * Node `upgrade` listener: `server.on('upgrade', cairn.handleUpgrade)`.
   */
  handleUpgrade: UpgradeHandler;
  /** The live endpoint's state (open connections). */
  readonly live: LiveEndpoint;
  /** Extension KV storage of one space (SPEC §12), for the embedding app. */
  kv(space: string): KvSpace;
  /** The KV service behind the routes and `kv(space)` (tests, metrics). */
  readonly kvService: KvService;
  /** Closes every WebSocket (live and y-websocket) with 1001 and refuses new ones. */
  closeSockets(): void;
  /** Yjs documents held in memory (SPEC §11). */
  readonly yjs: YjsHub;
  readonly app: Hono;
  readonly backend: StorageBackend;
  readonly pipeline: CommitPipeline;
  readonly reader: DocReader;
  /** The read path in wire types (what the routes serve). */
  readonly read: ReadApi;
  readonly snapshots: SnapshotService;
  /** Finds and records changes that break a document (quarantine). */
  readonly quarantine: QuarantineService;
  readonly branches: BranchService;
  readonly merge: ServerMerge;
  readonly identity: ServerIdentity;
  /** Checks tokens: HTTP routes, live sessions. */
  readonly authorizer: Authorizer;
  readonly limits: Limits;
  /**
   * Registers a server-side invariant for a space (SPEC §2 step 7); returns
   * its remover. A space id that is not a valid space DID throws.
   */
  registerInvariant(spaceId: string, invariant: Invariant): () => void;
  /**
   * Answers every queued transaction, then closes storage. From the call on,
   * every request answers `503 StorageUnavailable`.
   */
  close(): Promise<void>;
}

export async function createCairn(options: CairnOptions = {}): Promise<Cairn> {
  const logger = options.logger ?? silentLogger;
  const limits = resolveLimits(options.limits);
  const backend: StorageBackend = options.databaseUrl
    ? await PgBackend.open({ connectionString: options.databaseUrl, logger })
    : await SqliteBackend.open({
        dataDir: options.dataDir ?? './data',
        sync: options.sync ?? 'full',
        maxOpenSpaces: limits.maxOpenSpaces,
      });
  let stopWatching: (() => Promise<void>) | undefined;
  try {
    const identity = await loadServerIdentity(backend, options.serverKey);
    const authorizer = new Authorizer(
      options.auth ?? 'required',
      identity.did,
      new UcanVerifier(ucanLimits(limits)),
    );
    const pipeline = new CommitPipeline({
      backend,
      identity,
      limits,
      logger,
      ...(options.clock ? { now: options.clock } : {}),
    });
    // Heavy CRDT work runs on worker threads: reads on one, snapshots and searches on another.
    const readWorkers = new KindWorkers('reads', logger);
    const backgroundWorkers = new KindWorkers('background', logger);
    // Late-bound: the reader, the snapshots and the quarantine need one another.
    const late: { quarantine?: QuarantineService; snapshots?: SnapshotService } = {};
    const findBroken = (spaceId: string, branchId: number, seq: number) =>
      late.quarantine?.findBroken(spaceId, branchId, seq) ?? Promise.resolve(false);
    const reader = new DocReader(backend, {
      cache: new DocCache(limits.materializedCacheBytes),
      logger,
      workers: readWorkers,
      findBroken,
      onCorruptSnapshot: (spaceId, meta) => late.snapshots?.replaceCorrupt(spaceId, meta),
    });
    const quarantine = new QuarantineService({
      backend,
      pipeline,
      reader,
      workers: backgroundWorkers,
      logger,
      ...(options.clock ? { now: options.clock } : {}),
    });
    const snapshotService = new SnapshotService({
      backend,
      pipeline,
      workers: backgroundWorkers,
      reader,
      findBroken,
      logger,
      ...(options.snapshotPolicy ? { policy: options.snapshotPolicy } : {}),
    });
    Object.assign(late, { quarantine, snapshots: snapshotService });
    pipeline.onCommitted((committed) => snapshotService.onCommitted(committed));
    const read = createReadApi(reader);
    const acks = new AckRecorder(
      (spaceId, task) => pipeline.runWrite(spaceId, task),
      logger,
      limits.clientAckRetentionMs,
    );
    const hub = new LiveHub(new EpochFeed(backend), logger, acks);
    pipeline.onCommitted((batch) => hub.committed(batch));
    // Yjs updates take epochs too: the live feed (§6 subscriptions, SSE docs=*) hears them.
    pipeline.onRecords((spaceId, epochs) =>
      hub.committedElsewhere(spaceId, epochs.at(-1) as number),
    );
    const ext = createExtensions(
      { backend, pipeline, authorizer, logger, limits },
      { ...options, ...(options.basePath !== undefined ? { basePath: options.basePath } : {}) },
    );
    const { yjs, yjsSockets, kv: kvService, kvSweeper } = ext;
    // Several processes on one PostgreSQL database: their commits too.
    stopWatching = await backend.watchCommits?.({
      commit: (spaceId, epoch) => {
        hub.committedElsewhere(spaceId, epoch);
        yjs.committedElsewhere(spaceId);
      },
      resync: () => {
        hub.resync();
        yjs.committedElsewhere(undefined);
      },
    });
    const live = createLiveEndpoint(
      { authorizer, hub, read, pipeline, limits, serverDid: identity.did, logger },
      options.basePath,
    );
    const handleUpgrade: UpgradeHandler = (request, socket, head) =>
      yjsSockets.matches(request.url ?? '')
        ? yjsSockets.handleUpgrade(request, socket, head)
        : live.handleUpgrade(request, socket, head);
    const branches = new BranchService(pipeline, read, {
      maxForkDepth: limits.maxForkDepth,
      ...(options.clock ? { now: options.clock } : {}),
    });
    const merge = new ServerMerge(reader, pipeline, options.enableServerMerge ?? false);
    let closing: Promise<void> | undefined;
    const txBodies = new TxBodyParser(logger);
    const isClosed = () => closing !== undefined;
    const operations = createOperations({
      backend,
      pipeline,
      reader,
      snapshots: snapshotService,
      hub,
      live,
      yjs,
      kv: { service: kvService, sweeper: kvSweeper },
      version: CAIRN_VERSION,
      isClosed,
      metrics: options.metrics ?? true,
    });
    const app = createHttpApp(
      {
        authorizer,
        pipeline,
        read,
        branches,
        snapshots: snapshotService,
        imports: new ImportService(pipeline, readWorkers),
        merge,
        limits,
        hub,
        kv: kvService,
        ...(ext.kvRates ? { kvRates: ext.kvRates } : {}),
        yjs: {
          hub: yjs,
          reader: new YjsReader(backend, { ensureMigrated: (s, d) => yjs.ensureMigrated(s, d) }),
        },
        txBodies,
        logger,
        version: CAIRN_VERSION,
        ...(options.corsOrigins ? { corsOrigins: options.corsOrigins } : {}),
        operations,
        ...(options.enableAdminRoutes
          ? {
              admin: {
                rebuildCaches: (space: string) => reader.forgetSpace(space),
                closeConnections: (space: string) => live.closeSpace(space),
              },
            }
          : {}),
        isClosed,
      },
      options.basePath,
    );
    return {
      fetch: (request) => app.fetch(request),
      handleUpgrade,
      kv: (space: string) => kvOfSpace(kvService, parseSpaceId(space)),
      kvService,
      closeSockets: () => {
        live.close();
        yjsSockets.close();
      },
      live,
      yjs,
      app,
      backend,
      pipeline,
      reader,
      read,
      snapshots: snapshotService,
      quarantine,
      branches,
      merge,
      identity,
      authorizer,
      limits,
      registerInvariant: (spaceId, invariant) =>
        pipeline.invariants.register(parseSpaceId(spaceId), invariant),
      close: () => {
        closing ??= (async () => {
          live.close();
          yjsSockets.close();
          await acks.flush();
          await ext.close();
          await pipeline.close();
          await snapshotService.close();
          await Promise.all([readWorkers.close(), backgroundWorkers.close(), txBodies.close()]);
          await stopWatching?.();
          await backend.close();
        })();
        return closing;
      },
    };
  } catch (err) {
    await stopWatching?.();
    await backend.close();
    throw err;
  }
}
