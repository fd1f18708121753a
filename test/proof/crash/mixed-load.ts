import { expect } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import type { SeededRandom } from '../../helpers/seeded-random.js';
import type { ServerProcess } from '../../helpers/server-process.js';
import { AutomergeLoad } from './automerge-writers.js';
import { KvLoad } from './kv-writers.js';
import type { LoadContext } from './outcome.js';
import { TxChain } from './tx-chain.js';
import { YjsLoad } from './yjs-load.js';

/** How many writers of each kind (the short and long forms use the same). */
export interface MixedSizes {
  automergeWriters: number;
  kvWriters: number;
  kvCounterWriters: number;
  yjsDocs: number;
}

export const DEFAULT_SIZES: MixedSizes = {
  automergeWriters: 6,
  kvWriters: 5,
  kvCounterWriters: 2,
  yjsDocs: 2,
};

/**
 * The mixed write load of the crash proofs (issue 15 item 2): Automerge
 * transactions, Yjs updates (providers and HTTP) and KV puts on one space,
 * with a ledger of everything acknowledged. `run` drives it until the
 * driver stops it (after a SIGKILL, or after a database restart);
 * `check` reads everything back from a live server and holds it against
 * the ledger. Writer state survives runs, so a later run resends what an
 * earlier one lost the answer of.
 */
export class MixedLoad {
  readonly automerge: AutomergeLoad;
  readonly kv: KvLoad;
  readonly yjs: YjsLoad;
  private chain: TxChain | undefined;

  constructor(
    readonly space: string,
    rng: SeededRandom,
    sizes: MixedSizes = DEFAULT_SIZES,
  ) {
    this.automerge = new AutomergeLoad(sizes.automergeWriters);
    this.kv = new KvLoad(sizes.kvWriters, sizes.kvCounterWriters);
    this.yjs = new YjsLoad(sizes.yjsDocs, rng);
  }

  /** `acked: tx=… kv=… yjs=…` for the `proof:` lines. */
  get ackedLine(): string {
    return `acked: tx=${this.automerge.acked} kv=${this.kv.acked} yjs=${this.yjs.ackedTotal}`;
  }

  get epochsChecked(): number {
    return this.chain?.tip ?? 0;
  }

  /**
   * Runs the load against `server` while `drive` runs; the load ends when
   * `drive` calls `stop` (or returns). A failing writer stops the drive too.
   */
  async run(
    server: ServerProcess,
    drive: (ctx: LoadContext, stop: () => void) => Promise<void>,
  ): Promise<void> {
    let stopped = false;
    const ctx: LoadContext = {
      base: `${server.url}/v1/${this.space}`,
      stopped: () => stopped,
    };
    const stop = () => void (stopped = true);
    const load = Promise.all([
      this.automerge.run(ctx),
      this.kv.run(ctx),
      this.yjs.run(ctx, server.url, this.space),
    ]).finally(stop);
    await Promise.all([load, drive(ctx, stop).finally(stop)]);
  }

  /** Everything acknowledged so far is on `server` (no load may be running). */
  async check(server: ServerProcess): Promise<void> {
    const base = `${server.url}/v1/${this.space}`;
    this.chain ??= new TxChain(server.serverDid);
    await this.chain.refresh(base);
    await this.automerge.check(base, this.chain);
    await this.kv.check(base);
    await this.yjs.check(base, this.chain);
  }
}

/** `cairn verify` of the space, on the server's data dir or database; it must pass. */
export function expectVerifyPasses(server: ServerProcess, space: string): void {
  const where = server.options.databaseUrl
    ? ['--database', server.options.databaseUrl]
    : ['--data', server.options.dataDir];
  const out = runCli(['verify', '--space', space, ...where, '--json'], {}, 120_000);
  expect(out.code, `cairn verify: ${out.stdout} ${out.stderr}`).toBe(0);
  expect((JSON.parse(out.stdout) as { ok: boolean }).ok).toBe(true);
}
