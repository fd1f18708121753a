import { createMetrics, type MetricSources } from './metrics.js';

export interface OperationSources extends MetricSources {
  version: string;
  isClosed: () => boolean;
  /** Whether to keep metrics at all (the commit path then observes each answer). */
  metrics: boolean;
}

/**
 * `GET /readyz`, `GET /metrics` and `GET /debug` (SPEC §8): what an operator
 * or a load balancer asks a server. None of them names a space, doc or
 * client.
 */
export function createOperations(sources: OperationSources) {
  const metrics = sources.metrics ? createMetrics(sources) : undefined;
  const startedAtMs = Date.now();
  return {
    metrics: () => metrics?.text() ?? Promise.resolve('# metrics are off\n'),

    async readiness(): Promise<{ ready: boolean; reasons: string[] }> {
      const reasons: string[] = [];
      if (sources.isClosed()) reasons.push('shutting down');
      if (sources.pipeline.degraded) reasons.push('storage refused the last write');
      if (sources.yjs.degradedDocs > 0) {
        reasons.push(`yjs.degraded: ${sources.yjs.degradedDocs} docs relayed from memory only`);
      }
      const probe = sources.isClosed() ? undefined : await sources.backend.probeWritable();
      if (probe) reasons.push(probe);
      return { ready: reasons.length === 0, reasons };
    },

    async debug(): Promise<Record<string, unknown>> {
      const { backend, pipeline, reader, snapshots, hub, live, yjs } = sources;
      return {
        version: sources.version,
        storage: backend.kind,
        schemaVersion: await backend.schemaVersion(),
        uptimeSec: Math.round((Date.now() - startedAtMs) / 1000),
        degraded: { storageRefusedLastWrite: pipeline.degraded, closed: sources.isClosed() },
        openDbHandles: backend.openHandles(),
        writes: { ...pipeline.stats, queued: pipeline.queued },
        reads: { ...reader.stats },
        snapshots: { ...snapshots.stats },
        live: { connections: live.connections, spacesWithFeeds: hub.spaces, ...hub.stats },
        yjs: yjs.debug(),
        memory: process.memoryUsage(),
      };
    },
  };
}
