import { Option } from 'commander';
import { fmtMs } from '../../../bench/lib/percentiles.js';
import { commonTargets } from '../../lib/common-targets.js';
import { intIn, UsageError } from '../../lib/flags.js';
import type { OpRow, RunSummary } from '../../lib/summary.js';
import type { PreparedScenario, Scenario, ScenarioContext, TargetCheck } from '../../scenario.js';
import { KeySet } from './keys.js';
import { KvOps, MIX, type Namespace } from './ops.js';
import { prefill } from './prefill.js';

const INSTALLS_PER_TENANT = 3;
const NAMESPACES_PER_INSTALL = 5;
/** Records in every namespace that is not a list-scan one, so reads find keys from the start. */
const SEED_RECORDS = 20;
const DEFAULT_PREFILL_TENANTS = 10;
const PREFILL_MAX_SECONDS = 60;
const PREFILL_CONCURRENCY = 8;
/** The generator's own ceiling (one Node process, beside the server, on 2 cores). */
const MAX_OPS_PER_SECOND = 5_000;

/** SQLite targets (issue "KV"): p95 of every read and of every write. */
const READ_P95_MS = 5;
const WRITE_P95_MS = 10;

interface Install {
  namespaces: Namespace[];
  /** The tenant's list-scan namespace (pre-filled), when it has one. */
  big: Namespace | undefined;
}

interface KvFlags {
  tenants: number;
  ratePerInstall: number;
  prefillTenants: number | undefined;
  prefillRecords: number;
}

function shuffled(n: number, rand: () => number): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j] as number, a[i] as number];
  }
  return a;
}

const pct = (x: number) => `${Math.round(x * 100)}%`;

function p95Check(name: string, row: OpRow | undefined, limitMs: number | undefined): TargetCheck {
  const p95 = row?.latencyMs.p95 ?? Number.NaN;
  return {
    name,
    target: limitMs === undefined ? '— (none on this backend)' : `< ${limitMs} ms`,
    actual: `${fmtMs(p95)} (n=${(row?.count ?? 0).toLocaleString('en-US')})`,
    met: limitMs === undefined ? undefined : p95 < limitMs,
  };
}

/** Every install's rate together, ops/s. */
function totalRate(f: KvFlags): number {
  return (f.tenants * INSTALLS_PER_TENANT * f.ratePerInstall) / 60;
}

function validate(raw: Record<string, unknown>): void {
  const rate = totalRate(raw as unknown as KvFlags);
  if (rate > MAX_OPS_PER_SECOND) {
    throw new UsageError(
      `--tenants × 3 × --rate-per-install / 60 = ${rate.toFixed(0)} ops/s, over the generator's ${MAX_OPS_PER_SECOND} ops/s`,
    );
  }
}

function prepare(raw: Record<string, unknown>, ctx: ScenarioContext): PreparedScenario {
  const f = raw as unknown as KvFlags;
  const ratePerSecond = totalRate(f);
  const prefillTenants = Math.min(f.tenants, f.prefillTenants ?? DEFAULT_PREFILL_TENANTS);
  const rand = ctx.random;
  const installs: Install[] = [];
  const big: Namespace[] = [];
  const seed: Namespace[] = [];
  for (let t = 0; t < f.tenants; t++) {
    const space = `did:key:z6MkLoadgenTenant${String(t).padStart(4, '0')}`;
    let tenantBig: Namespace | undefined;
    const tenantInstalls: Install[] = [];
    for (let i = 0; i < INSTALLS_PER_TENANT; i++) {
      const namespaces: Namespace[] = [];
      for (let n = 0; n < NAMESPACES_PER_INSTALL; n++) {
        const isBig = t < prefillTenants && i === 0 && n === 0 && f.prefillRecords > 0;
        const ns: Namespace = {
          base: `/v1/${space}/kv/ext-${i}/ns-${n}`,
          keys: new KeySet('k-'),
          big: isBig,
        };
        if (isBig) {
          tenantBig = ns;
          big.push(ns);
        } else {
          seed.push(ns);
        }
        namespaces.push(ns);
      }
      tenantInstalls.push({ namespaces, big: undefined });
    }
    for (const inst of tenantInstalls) inst.big = tenantBig;
    installs.push(...tenantInstalls);
  }
  const order = shuffled(installs.length, rand);
  const ops = new KvOps(ctx.http, rand);
  let prefillReport: Record<string, unknown> = {};

  return {
    describe:
      `${f.tenants} tenants × ${INSTALLS_PER_TENANT} installs × ${NAMESPACES_PER_INSTALL} namespaces, ` +
      `${f.ratePerInstall} ops/min per install (${ratePerSecond.toFixed(1)} ops/s); ` +
      `read/write/delete ${pct(MIX.read)}/${pct(MIX.write)}/${pct(1 - MIX.read - MIX.write)}, ` +
      `${pct(MIX.list)} of reads list 100 keys of a ${f.prefillRecords.toLocaleString('en-US')}-record namespace ` +
      `(${prefillTenants} tenants have one), ${pct(MIX.bulk)} of writes are 20-item bulk puts, ` +
      `values 1–64 KiB (80% ~1 KiB), ${pct(MIX.ttl)} with a TTL, ${pct(MIX.miss)} of gets miss on purpose`,
    ratePerSecond,
    ops: ['get', 'list', 'put', 'bulk-put', 'delete'],
    groups: [
      { name: 'reads', ops: ['get', 'list'] },
      { name: 'writes', ops: ['put', 'bulk-put', 'delete'] },
    ],
    async setup() {
      const report = await prefill(
        ctx.http,
        {
          big,
          records: f.prefillRecords,
          seed,
          seedRecords: SEED_RECORDS,
          concurrency: PREFILL_CONCURRENCY,
          maxSeconds: PREFILL_MAX_SECONDS,
        },
        rand,
        ctx.progress,
        ctx.signal,
      );
      prefillReport = { prefill: report };
      return prefillReport;
    },
    start(slot) {
      const inst = installs[order[slot % installs.length] as number] as Install;
      const ns = inst.namespaces[Math.floor(rand() * inst.namespaces.length)] as Namespace;
      const r = rand();
      if (r < MIX.read) {
        if (rand() < MIX.list) return { op: 'list', done: ops.list(inst.big ?? ns) };
        return { op: 'get', done: ops.get(ns, slot) };
      }
      if (r < MIX.read + MIX.write) {
        if (rand() < MIX.bulk) return { op: 'bulk-put', done: ops.bulkPut(ns, slot) };
        return { op: 'put', done: ops.put(ns, slot) };
      }
      return { op: 'delete', done: ops.delete(ns, slot) };
    },
    facts() {
      let keys = 0;
      let bigKeys = 0;
      for (const inst of installs) {
        for (const ns of inst.namespaces) {
          keys += ns.keys.size;
          if (ns.big) bigKeys += ns.keys.size;
        }
      }
      return { trackedKeysAtEnd: keys, trackedKeysInListNamespaces: bigKeys };
    },
    targets(s: RunSummary) {
      const group = (name: string) => s.groups.find((g) => g.name === name);
      const sqlite = s.backend === 'sqlite';
      return [
        p95Check('reads p95 (get+list)', group('reads'), sqlite ? READ_P95_MS : undefined),
        p95Check(
          'writes p95 (put+bulk-put+delete)',
          group('writes'),
          sqlite ? WRITE_P95_MS : undefined,
        ),
        ...commonTargets(s),
      ];
    },
  };
}

export const kvScenario: Scenario = {
  name: 'kv',
  summary:
    'extension KV store (docs/KV.md): tenants × 3 installs × 5 namespaces, 70/25/5 read/write/delete ' +
    'at a fixed rate per install, list scans, bulk puts, TTLs; SQLite targets p95 reads < 5 ms, writes < 10 ms',
  options: () => [
    new Option('--tenants <n>', '[kv] tenants (spaces), each 3 installs × 5 namespaces')
      .argParser(intIn(1, 1000))
      .default(50),
    new Option('--rate-per-install <n>', '[kv] operations per minute per install')
      .argParser(intIn(1, 60_000))
      .default(200),
    new Option(
      '--prefill-tenants <n>',
      `[kv] tenants with a pre-filled list-scan namespace (default: min(tenants, ${DEFAULT_PREFILL_TENANTS}))`,
    ).argParser(intIn(0, 1000)),
    new Option('--prefill-records <n>', '[kv] records in each list-scan namespace')
      .argParser(intIn(0, 5_000))
      .default(5_000),
  ],
  validate,
  prepare,
};
