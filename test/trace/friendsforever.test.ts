import * as A from '@automerge/automerge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actorId, b64 } from '../helpers/changes.js';
import { SPACE, startEngine, type TestEngine } from '../helpers/engine.js';
import { loadTrace, traceFile, TRACE_MISSING } from '../helpers/trace-data.js';

/** The concurrent trace format (../shared/data/traces/ATTRIBUTION.md). */
interface TraceTxn {
  parents: number[];
  agent: number;
  time: string;
  patches: [number, number, string][];
}
interface ConcurrentTrace {
  kind: string;
  numAgents: number;
  endContent: string;
  txns: TraceTxn[];
}

type TextDoc = A.Doc<{ text: string }>;

const DOC = 'friendsforever';
/** Most changes a client pushes in one transaction (its outbox is flushed in chunks). */
const MAX_CHANGES_PER_TX = 256;
/** A client gives up after this many rebases of one transaction (never reached here). */
const MAX_REBASES = 20;

const file = traceFile('friendsforever');
if (!file) console.warn(TRACE_MISSING);

/** Code point position → UTF-16 index in `s` (Automerge's JS text indexes are UTF-16). */
function utf16Index(s: string, codePoints: number): number {
  let i = 0;
  for (let n = 0; n < codePoints && i < s.length; n++) {
    const c = s.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < s.length ? 2 : 1;
  }
  return i;
}

function sorted(a: Iterable<string>): string[] {
  return [...a].sort();
}

/** One editor: its Automerge replica, which trace txns it holds, and what it believes the server heads are. */
class Agent {
  doc: TextDoc;
  readonly has: Uint8Array;
  serverHeads: string[] = [];

  constructor(n: number, size: number) {
    this.doc = A.init<{ text: string }>({ actor: actorId(n + 1) });
    this.has = new Uint8Array(size);
  }
}

describe('friendsforever trace through the engine', () => {
  let engine: TestEngine | undefined;
  beforeAll(async () => {
    if (file) engine = await startEngine();
  });
  afterAll(async () => {
    await engine?.close();
  });

  it.skipIf(!file)(
    'two agents replay the concurrent trace; the engine ends at endContent',
    async () => {
      const server = engine as TestEngine;
      const started = performance.now();
      const trace = loadTrace<ConcurrentTrace>(file as string);
      const { txns } = trace;
      const n = txns.length;
      expect(trace.kind).toBe('concurrent');
      expect(n).toBeGreaterThan(0);
      // Positions are code points; they only differ from Automerge's UTF-16 indexes
      // if some text outside the BMP is ever inserted.
      const nonBmp = /[\u{10000}-\u{10FFFF}]/u;
      const needsConversion =
        nonBmp.test(trace.endContent) || txns.some((t) => t.patches.some((p) => nonBmp.test(p[2])));

      const agents = Array.from({ length: trace.numAgents }, (_, i) => new Agent(i, n));
      const bytes: Uint8Array[] = new Array(n);
      const hashes: string[] = new Array(n);
      let localMs = 0;
      let engineMs = 0;
      let transactions = 0;
      let rebases = 0;
      let catchUps = 0;
      let maxCatchUp = 0;
      let lastReceiptHeads: string[] = [];

      /** Applies, in one batch, every ancestor of `parents` the agent lacks. */
      const catchUp = (agent: Agent, parents: readonly number[]) => {
        const missing: number[] = [];
        const stack = [...parents];
        while (stack.length > 0) {
          const t = stack.pop() as number;
          if (agent.has[t]) continue;
          agent.has[t] = 1;
          missing.push(t);
          for (const p of (txns[t] as TraceTxn).parents) if (!agent.has[p]) stack.push(p);
        }
        if (missing.length === 0) return;
        missing.sort((x, y) => x - y); // trace order is a causal order
        catchUps++;
        maxCatchUp = Math.max(maxCatchUp, missing.length);
        [agent.doc] = A.applyChanges(
          agent.doc,
          missing.map((t) => bytes[t] as Uint8Array),
        );
      };

      /** Makes trace txn `i` as one change on its agent's replica, at exactly its parents' state. */
      const makeChange = (i: number) => {
        const txn = txns[i] as TraceTxn;
        const agent = agents[txn.agent] as Agent;
        if (txn.patches.length === 0) throw new Error(`txn ${i} has no patches`);
        catchUp(agent, txn.parents);
        const parentHashes = sorted(txn.parents.map((p) => hashes[p] as string));
        const heads = sorted(A.getHeads(agent.doc));
        if (heads.join() !== parentHashes.join()) {
          throw new Error(`txn ${i}: replica heads ${heads.join()} are not its parents' state`);
        }
        agent.doc = A.change(agent.doc, (d) => {
          // The root txn creates the text (reading d.text here would copy it: O(length)).
          if (txn.parents.length === 0) d.text = '';
          for (const [pos, del, ins] of txn.patches) {
            const at = needsConversion ? utf16Index(d.text, pos) : pos;
            const units = needsConversion ? utf16Index(d.text, pos + del) - at : del;
            A.splice(d, ['text'], at, units, ins);
          }
        });
        const change = A.getLastLocalChange(agent.doc);
        if (!change) throw new Error(`txn ${i} made no change`);
        const decoded = A.decodeChange(change);
        // Automerge lists the heads as deps and may add the actor's own previous
        // change when that is only an ancestor of a head.
        const deps = new Set(decoded.deps);
        if (!parentHashes.every((h) => deps.has(h)) || deps.size > parentHashes.length + 1) {
          throw new Error(
            `txn ${i}: deps ${[...deps].join()} are not parents ${txn.parents.join()}`,
          );
        }
        agent.has[i] = 1;
        bytes[i] = change;
        hashes[i] = decoded.hash as string;
      };

      /**
       * Pushes txns [from, to) of one agent, one transaction per chunk, with
       * baseHeads = what the agent believes the server heads are. On 409
       * StaleBaseHeads it rebases onto the error's currentHeads and retries.
       */
      const push = async (agent: Agent, from: number, to: number) => {
        for (let start = from; start < to; start += MAX_CHANGES_PER_TX) {
          const end = Math.min(to, start + MAX_CHANGES_PER_TX);
          const changes = bytes.slice(start, end).map(b64);
          for (let attempt = 0; ; attempt++) {
            if (attempt > MAX_REBASES) throw new Error(`txns ${start}-${end}: too many rebases`);
            transactions++;
            const out = await server.tx({
              writes: [{ docId: DOC, baseHeads: agent.serverHeads, changes }],
            });
            if (out.ok) {
              const result = out.results[0];
              if (result?.applied !== end - start || result.duplicates !== 0) {
                throw new Error(`txns ${start}-${end}: receipt ${JSON.stringify(result)}`);
              }
              agent.serverHeads = result.newHeads;
              lastReceiptHeads = result.newHeads;
              break;
            }
            if (out.error.code !== 'StaleBaseHeads' || !out.error.currentHeads) {
              throw new Error(`txns ${start}-${end}: refused ${JSON.stringify(out.error)}`);
            }
            rebases++;
            agent.serverHeads = out.error.currentHeads;
          }
        }
      };

      // Runs of consecutive txns by one agent: it edits, then pushes what it made.
      for (let i = 0; i < n;) {
        const agentNo = (txns[i] as TraceTxn).agent;
        let j = i;
        while (j < n && (txns[j] as TraceTxn).agent === agentNo) j++;
        const t0 = performance.now();
        for (let k = i; k < j; k++) makeChange(k);
        const t1 = performance.now();
        await push(agents[agentNo] as Agent, i, j);
        localMs += t1 - t0;
        engineMs += performance.now() - t1;
        i = j;
      }

      const t2 = performance.now();
      // A local doc holding every change, loaded in one batch.
      const full = A.loadIncremental(A.init<{ text: string }>(), Buffer.concat(bytes));
      expect(full.text === trace.endContent).toBe(true);
      const current = await server.cairn.reader.readDoc(SPACE, DOC, 'main', { kind: 'current' });
      const value = current.json() as { text?: unknown };
      expect(current.seq).toBe(n);
      // Not toEqual on 21k-char strings: a mismatch would print both in full.
      expect(typeof value.text).toBe('string');
      if (value.text !== trace.endContent) {
        const text = value.text as string;
        let at = 0;
        while (at < text.length && text[at] === trace.endContent[at]) at++;
        throw new Error(
          `engine text differs from endContent at ${at}: ` +
            `${JSON.stringify(text.slice(at, at + 40))} vs ${JSON.stringify(trace.endContent.slice(at, at + 40))}`,
        );
      }
      const fullHeads = sorted(A.getHeads(full));
      expect(current.heads).toEqual(fullHeads);
      expect(lastReceiptHeads).toEqual(fullHeads);

      // The log is the trace order, so a historical read at seq k is txns 0..k-1.
      const k = Math.floor(n / 2);
      const half = await server.cairn.reader.readDoc(SPACE, DOC, 'main', { kind: 'seq', seq: k });
      const halfLocal = A.loadIncremental(
        A.init<{ text: string }>(),
        Buffer.concat(bytes.slice(0, k)),
      );
      expect((half.json() as { text?: unknown }).text === halfLocal.text).toBe(true);
      expect(half.heads).toEqual(sorted(A.getHeads(halfLocal)));
      const readMs = performance.now() - t2;

      const totalMs = performance.now() - started;
      console.log(
        `friendsforever: ${n} txns by ${trace.numAgents} agents -> ${transactions} engine ` +
          `transactions (${rebases} rebased after StaleBaseHeads); ${catchUps} catch-ups ` +
          `(largest ${maxCatchUp} changes); code point conversion ${needsConversion ? 'used' : 'not needed (all BMP)'}; ` +
          `local replicas ${(localMs / 1000).toFixed(1)} s, engine ${(engineMs / 1000).toFixed(1)} s, ` +
          `final checks ${(readMs / 1000).toFixed(1)} s, total ${(totalMs / 1000).toFixed(1)} s`,
      );
    },
    120_000,
  );
});
