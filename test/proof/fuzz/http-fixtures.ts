import * as A from '@automerge/automerge';
import * as Y from 'yjs';
import { b64, Replica, write } from '../../helpers/changes.js';

/**
 * What the HTTP fuzzer starts from: a space seeded over HTTP with a doc
 * (three changes, a branch, a snapshot), a Yjs doc and a KV record and
 * schema, so generated paths can name things that exist; and for every
 * route with a body, valid bodies that the fuzzer mutates.
 */

export const FUZZ_SPACE = 'did:key:z6MkProofFuzzHttp';

export interface HttpFixtures {
  /** A valid value of each path parameter, by name (`space`, `docId`, …). */
  params: Record<string, string>;
  /** Real `nextCursor`s of paged answers. */
  cursors: string[];
  /** Valid bodies by route id (a route not listed gets `{}`), the `n`th of a pool. */
  validBody(routeId: string, n: number): Buffer | undefined;
}

/** Valid bodies made before the run: each valid tx writes a fresh doc with a fresh change. */
const POOL = 64;

async function call(url: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const binary = body instanceof Uint8Array;
  const res = await fetch(`${url}${path}`, {
    method,
    headers: {
      'content-type': binary ? 'application/octet-stream' : 'application/json',
    },
    ...(body === undefined ? {} : { body: binary ? body : JSON.stringify(body) }),
    signal: AbortSignal.timeout(15_000),
  });
  const json = (await res.json()) as unknown;
  if (res.status >= 300)
    throw new Error(`seed ${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Seeds `FUZZ_SPACE` on the server at `url` and builds the valid bodies. */
export async function seedFixtures(url: string): Promise<HttpFixtures> {
  const space = `/v1/${FUZZ_SPACE}`;
  const r = new Replica(1);
  for (let i = 0; i < 3; i++) {
    const base = r.heads;
    const c = r.change((d) => (d[`k${i}`] = `value ${i}`));
    await call(url, 'POST', `${space}/tx`, { writes: [write('doc', [c], base)] });
  }
  await call(url, 'POST', `${space}/docs/doc/branches`, { name: 'feature' });
  const snap = (await call(url, 'POST', `${space}/docs/doc/snapshots`, {})) as {
    snapshotId: string;
  };
  const ydoc = new Y.Doc();
  ydoc.getText('t').insert(0, 'hello');
  await call(url, 'POST', `${space}/yjs/ydoc/updates`, Y.encodeStateAsUpdate(ydoc));
  await call(url, 'PUT', `${space}/kv/app/ns/records/k`, { value: { a: 1 } });
  await call(url, 'PUT', `${space}/kv/app/ns/schemas/1`, {
    schema: { type: 'object' },
    status: 'draft',
  });

  const cursors: string[] = [];
  for (const paged of ['docs/doc/history', 'docs/doc/changes', 'yjs/ydoc/history']) {
    const page = (await call(url, 'GET', `${space}/${paged}?limit=1`)) as { nextCursor?: string };
    if (page.nextCursor) cursors.push(page.nextCursor);
  }
  const fresh = Array.from({ length: POOL }, (_, i) => {
    const rep = new Replica(100 + i);
    return { doc: `fresh-${i}`, change: rep.change((d) => (d.n = i)), saved: A.save(rep.doc) };
  });
  const yUpdates = Array.from({ length: POOL }, (_, i) => {
    const d = new Y.Doc();
    d.getMap('m').set(`k${i}`, i);
    return Y.encodeStateAsUpdate(d);
  });
  const json = (v: unknown) => Buffer.from(JSON.stringify(v));
  const bodies: Record<string, (n: number) => Buffer> = {
    commitTx: (n) => {
      const f = fresh[n % POOL]!;
      return json({ clientTxId: `fuzz-${n}`, writes: [write(f.doc, [f.change])] });
    },
    createBranch: (n) => json({ name: `fz-${n}`, from: { branch: 'main', seq: 1 } }),
    closeBranch: () => json({}),
    mergeBranch: () => json({ into: 'main' }),
    makeSnapshot: () => json({ branch: 'main' }),
    importDoc: (n) => Buffer.from(fresh[n % POOL]!.saved),
    postYjsUpdate: (n) => Buffer.from(yUpdates[n % POOL]!),
    kvPut: (n) => json({ value: { n }, metadata: { m: 'x' }, ttlSeconds: 3600 }),
    kvBulkPut: (n) => json({ items: [{ key: `b${n}`, value: n }] }),
    kvPutSchema: () => json({ schema: { type: 'object' }, status: 'draft' }),
    adminCompact: () => json({ space: FUZZ_SPACE, docId: 'doc' }),
    adminRebuildCaches: () => json({ space: FUZZ_SPACE }),
    adminCloseConnections: () => json({ space: FUZZ_SPACE }),
  };
  return {
    cursors,
    params: {
      space: FUZZ_SPACE,
      docId: 'doc',
      name: 'feature',
      epoch: '1',
      snapshotId: snap.snapshotId,
      install: 'app',
      namespace: 'ns',
      key: 'k',
      version: '1',
    },
    validBody: (routeId, n) => bodies[routeId]?.(n),
  };
}

/** A valid tx body writing one fresh change to `docId` on `baseHeads` (for the suites' own checks). */
export function freshTxBody(docId: string, actor: number, baseHeads: string[] = []): string {
  const c = new Replica(actor).change((d) => (d.fresh = actor));
  return JSON.stringify({ writes: [{ docId, baseHeads, changes: [b64(c)] }] });
}
