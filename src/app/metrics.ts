import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { SnapshotService } from '../history/snapshot-service.js';
import type { LiveHub } from '../live/live-hub.js';
import type { CommitPipeline } from '../pipeline/commit-pipeline.js';
import type { DocReader } from '../read/doc-reader.js';
import type { LiveEndpoint } from '../server/live-upgrade.js';
import type { StorageBackend } from '../storage/types.js';
import type { KvService } from '../kv/kv-service.js';
import type { KvSweeper } from '../kv/kv-sweeper.js';
import type { YjsHub } from '../yjs/yjs-hub.js';

/** What the metrics read (pull: nothing on the commit path but one histogram observation). */
export interface MetricSources {
  backend: StorageBackend;
  pipeline: CommitPipeline;
  reader: DocReader;
  snapshots: SnapshotService;
  hub: LiveHub;
  live: LiveEndpoint;
  yjs: YjsHub;
  kv: { service: KvService; sweeper: KvSweeper };
}

/** Commit latency buckets, seconds: fsync-bound commits sit in the low milliseconds. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * The Prometheus metrics of SPEC §8 (`GET /metrics`), with bounded labels
 * only — result codes, read paths, kinds of event; never a space, doc or
 * client id. Counters that components keep anyway (reads, snapshots, live
 * events) are read at scrape time; commits are observed as they are
 * answered. Plus Node's process metrics (CPU, memory, event-loop lag).
 */
export function createMetrics(sources: MetricSources): { text(): Promise<string> } {
  const registry = new Registry();
  registry.setDefaultLabels({ storage: sources.backend.kind });

  const commits = new Counter({
    name: 'cairn_transactions_total',
    help: 'Transactions answered, by result: ok, or the error code (conflicts and rejections).',
    labelNames: ['result'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'cairn_commit_duration_seconds',
    help: 'Time from a transaction reaching the pipeline to its answer (after the durable commit).',
    labelNames: ['result'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  sources.pipeline.observe((result, ms) => {
    commits.inc({ result });
    latency.observe({ result: result === 'ok' ? 'ok' : 'refused' }, ms / 1000);
  });

  pulled(
    registry,
    'cairn_reads_total',
    'Point-in-time reads by path: cache, snapshot (fast path) or log (fallback).',
    ['path'],
    () => {
      const s = sources.reader.stats;
      return [
        [{ path: 'cache' }, s.fromCache],
        [{ path: 'snapshot' }, s.fromSnapshot],
        [{ path: 'log' }, s.fromLog],
      ];
    },
  );
  pulled(
    registry,
    'cairn_snapshots_total',
    'Snapshots made, failed, and corrupt ones replaced.',
    ['result'],
    () => {
      const s = sources.snapshots.stats;
      return [
        [{ result: 'made' }, s.made],
        [{ result: 'failed' }, s.failed],
        [{ result: 'corrupt_replaced' }, s.corruptReplaced],
      ];
    },
  );
  pulled(
    registry,
    'cairn_live_events_total',
    'Live delivery events: frames sent, acks received, queues coalesced, closes (4008 over budget, 4001 token expired).',
    ['event'],
    () => {
      const s = sources.hub.stats;
      return [
        [{ event: 'frame_sent' }, s.framesSent],
        [{ event: 'ack' }, s.acks],
        [{ event: 'coalesced' }, s.coalesced],
        [{ event: 'closed_over_budget' }, s.closedOverBudget],
        [{ event: 'token_expired' }, s.expired],
      ];
    },
  );
  gauge(
    registry,
    'cairn_ws_connections',
    'Open WebSocket sessions.',
    () => sources.live.connections,
  );
  gauge(
    registry,
    'cairn_write_queue_depth',
    'Transactions and tasks waiting in the spaces’ writer queues.',
    () => sources.pipeline.queued,
  );
  gauge(
    registry,
    'cairn_delivery_queue_frames',
    'Live deliveries waiting for their sockets, over all connections.',
    () => sources.live.queues().reduce((n, q) => n + q.frames, 0),
  );
  gauge(
    registry,
    'cairn_open_db_handles',
    'Database handles held open (SQLite connections; PostgreSQL pooled connections).',
    () => sources.backend.openHandles(),
  );
  gauge(
    registry,
    'cairn_degraded',
    '1 while storage refuses writes (SPEC §8 degraded mode).',
    () => (sources.pipeline.degraded ? 1 : 0),
  );
  yjsMetrics(registry, sources.yjs);
  pulled(
    registry,
    'cairn_kv_ttl_cleanup_deletes_total',
    'Expired KV records removed (by writes, lists and the background sweep).',
    [],
    () => [[{}, sources.kv.service.cleanup.removed]],
  );
  new Gauge({
    name: 'cairn_kv_ttl_expired_rows_pending',
    help: 'Expired KV records not yet removed, in the spaces with recent KV writes.',
    registers: [registry],
    async collect() {
      this.set(await sources.kv.sweeper.pending());
    },
  });
  return {
    text: async () => `${await processMetrics().metrics()}\n${await registry.metrics()}`,
  };
}

/** SPEC §11 observability: Yjs docs in memory, relay mode, compaction, oversized updates. */
function yjsMetrics(registry: Registry, yjs: YjsHub): void {
  pulled(
    registry,
    'cairn_yjs_updates_total',
    'Yjs updates committed, by kind (journal row or oversized checkpoint).',
    ['kind'],
    () => {
      const s = yjs.committer.stats;
      return [
        [{ kind: 'journal' }, s.committed - s.oversized],
        [{ kind: 'oversized' }, s.oversized],
      ];
    },
  );
  pulled(
    registry,
    'cairn_yjs_compactions_total',
    'Yjs checkpoints made by compaction, by result.',
    ['result'],
    () => [
      [{ result: 'ok' }, yjs.compactor.stats.checkpoints],
      [{ result: 'failed' }, yjs.compactor.stats.failures],
    ],
  );
  gauge(registry, 'cairn_yjs_open_docs', 'Yjs docs held in memory.', () => yjs.openDocs);
  gauge(
    registry,
    'cairn_yjs_relay_only_docs',
    'Yjs docs in relay mode (state storage does not have yet).',
    () => yjs.degradedDocs,
  );
  gauge(
    registry,
    'cairn_yjs_breakers_open',
    'Yjs docs whose compaction breaker is open.',
    () => yjs.compactor.openBreakers().length,
  );
}

let processRegistry: Registry | undefined;

/**
 * Node's process metrics, one set per process (they install event-loop and
 * GC observers: made on the first scrape, shared by every cairn in it).
 */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: 'cairn_process_' });
  }
  return processRegistry;
}

/** A counter whose values live in a component, read at scrape time. */
function pulled(
  registry: Registry,
  name: string,
  help: string,
  labelNames: string[],
  read: () => [Record<string, string>, number][],
): void {
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of read()) this.inc(labels, value);
    },
  });
}

function gauge(registry: Registry, name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}
