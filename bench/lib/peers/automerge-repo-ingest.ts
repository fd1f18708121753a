/**
 * Ingest through a stock automerge-repo sync server, in its own process: the
 * automerge-paper editing trace (../shared/data/traces, beside the project),
 * its first <edits> txns replayed as fast as one writer Repo can, one
 * `handle.change` per txn (its patches `[pos, delCount, insertText]` applied
 * with automerge-repo's `splice`, the `next` API) on a doc `{text}`, while one
 * subscriber Repo follows the same doc through the server. The writer yields
 * to the event loop after each change so sync runs during the replay. Time:
 * from the first edit until the subscriber's text equals the writer's final
 * text (at most 300 s, replay included). Prints one JSON line
 * `{"edits":n,"seconds":s,"converged":bool,"textLength":len}`, or
 * `{"skipped":"trace data not found"}` when the trace is absent.
 * Usage: node --import tsx bench/lib/peers/automerge-repo-ingest.ts <wsUrl> <edits>
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { Repo, splice, type AutomergeUrl, type DocHandle } from '@automerge/automerge-repo';
import { WebSocketClientAdapter } from '@automerge/automerge-repo-network-websocket';

const TRACE_FILE = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../../shared/data/traces/automerge-paper.json.gz',
);
const CONVERGE_TIMEOUT_MS = 300_000;
const SETUP_TIMEOUT_MS = 60_000;

/** The sequential trace format (../shared/data/traces/ATTRIBUTION.md). */
interface Trace {
  startContent: string;
  endContent: string;
  txns: { time: string; patches: [number, number, string][] }[];
}

interface TextDoc {
  text: string;
}

function done(result: unknown): void {
  // Exit only once the line is out (a pipe may take it in several writes).
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
}

async function until(what: string, ready: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!ready()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** `repo.find`, again every 100 ms while the server does not have the doc yet. */
async function findWithRetry(repo: Repo, docUrl: AutomergeUrl): Promise<DocHandle<TextDoc>> {
  const deadline = performance.now() + SETUP_TIMEOUT_MS;
  for (;;) {
    try {
      return await repo.find<TextDoc>(docUrl);
    } catch (err) {
      if (performance.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

const [url, editsText] = process.argv.slice(2);
const wanted = Number(editsText);
if (!url || !(wanted >= 1)) {
  process.stderr.write('usage: automerge-repo-ingest.ts <wsUrl> <edits>\n');
  process.exit(2);
}

if (!fs.existsSync(TRACE_FILE)) {
  done({ skipped: 'trace data not found' });
} else {
  const trace = JSON.parse(zlib.gunzipSync(fs.readFileSync(TRACE_FILE)).toString('utf8')) as Trace;
  const txns = trace.txns.slice(0, wanted);

  const newRepo = async () => {
    const repo = new Repo({ network: [new WebSocketClientAdapter(url)] });
    await until('the server peer', () => repo.peers.length > 0, SETUP_TIMEOUT_MS);
    return repo;
  };
  const writerRepo = await newRepo();
  const writer = writerRepo.create<TextDoc>({ text: trace.startContent });
  // The server announces nothing (stock share policy): the subscriber finds the
  // doc by id once the writer's announcement has reached the server.
  const subscriberRepo = await newRepo();
  const follower = await findWithRetry(subscriberRepo, writer.url);

  const t0 = performance.now();
  let applied = 0;
  for (const txn of txns) {
    if (performance.now() - t0 > CONVERGE_TIMEOUT_MS) break;
    writer.change((d) => {
      for (const [pos, del, ins] of txn.patches) splice(d, ['text'], pos, del, ins);
    });
    applied++;
    await new Promise((resolve) => setImmediate(resolve));
  }
  const finalText = writer.doc().text;
  const converged =
    applied === txns.length &&
    (await until(
      'convergence',
      () => follower.doc().text === finalText,
      CONVERGE_TIMEOUT_MS - (performance.now() - t0),
    ).then(
      () => true,
      () => false,
    ));
  const seconds = (performance.now() - t0) / 1000;
  await Promise.race([
    Promise.allSettled([writerRepo.shutdown(), subscriberRepo.shutdown()]),
    new Promise((resolve) => setTimeout(resolve, 5_000)),
  ]);
  done({ edits: applied, seconds, converged, textLength: finalText.length });
}
