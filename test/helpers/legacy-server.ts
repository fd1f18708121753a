import { createHash } from 'node:crypto';
import path from 'node:path';
import { afterEach } from 'vitest';
import * as Y from 'yjs';
import { createCairn, type Cairn, type CairnOptions } from '../../src/app/create-cairn.js';
import { listen, type RunningServer } from '../../src/app/serve.js';
import { openLegacySource, type LegacySource } from '../../src/app/yjs-import.js';
import { withSpaceReader } from '../../src/storage/space-access.js';
import { createTestDatabase, TEST_BACKEND, type TestDatabase } from './backend.js';
import { SPACE, TEST_SERVER_KEY } from './engine.js';
import { addJunkRow, docOf, sampleEdits, writeHocuspocusDb } from './hocuspocus.js';
import { makeTempDir } from './temp-dir.js';

/** The legacy store, counting what is read from it. */
export class CountingSource implements LegacySource {
  readonly reads: string[] = [];
  constructor(private readonly inner: LegacySource) {}
  get description() {
    return this.inner.description;
  }
  read(name: string) {
    this.reads.push(name);
    return this.inner.read(name);
  }
  names() {
    return this.inner.names();
  }
  close() {
    return this.inner.close();
  }
}

export interface LegacyServer {
  cairn: Cairn;
  url: string;
  source: CountingSource;
}

/**
 * A real Hocuspocus database with two legacy docs (`notes/one`, `two`) and
 * cairn servers started on it with lazy migration into SPACE, on the
 * backend under test; everything is closed and removed after each test.
 */
export class LegacyHarness {
  dir = '';
  file = '';
  /** Each legacy document's stored bytes. */
  legacy = new Map<string, Uint8Array>();
  db: TestDatabase | undefined;
  private cleanup: (() => void) | undefined;
  private readonly servers: RunningServer[] = [];
  private readonly clients: { close(): void }[] = [];

  constructor() {
    afterEach(() => this.reset());
  }

  /** The database (plus `extra` rows written by hand) and a fresh cairn target. */
  async setup(extra: Record<string, Uint8Array> = {}): Promise<void> {
    ({ dir: this.dir, cleanup: this.cleanup } = makeTempDir());
    this.db = TEST_BACKEND === 'postgres' ? await createTestDatabase() : undefined;
    this.file = path.join(this.dir, 'hocuspocus.sqlite');
    this.legacy = await writeHocuspocusDb(this.file, {
      'notes/one': sampleEdits('one'),
      two: sampleEdits('two'),
    });
    for (const [name, bytes] of Object.entries(extra)) addJunkRow(this.file, name, bytes);
  }

  /** `cairn serve --yjs-legacy hocuspocus:FILE --yjs-legacy-space SPACE`, in-process. */
  async start(options: CairnOptions = {}): Promise<LegacyServer> {
    const source = new CountingSource(openLegacySource(`hocuspocus:${this.file}`));
    const cairn = await createCairn({
      dataDir: path.join(this.dir, 'data'),
      sync: 'normal',
      serverKey: TEST_SERVER_KEY,
      auth: 'off',
      ...(this.db ? { databaseUrl: this.db.url } : {}),
      yjsLegacy: { source, space: SPACE },
      ...options,
    });
    const server = await listen(cairn, '127.0.0.1', 0);
    this.servers.push(server);
    return { cairn, url: `http://127.0.0.1:${server.port}`, source };
  }

  /** Stops the newest server (and its engine, which closes the source). */
  async stop(): Promise<void> {
    await this.servers.pop()?.close(0);
  }

  track<T extends { close(): void }>(client: T): T {
    this.clients.push(client);
    return client;
  }

  /** The legacy doc as Hocuspocus stored it. */
  sourceDoc(name: string): Y.Doc {
    return docOf(this.legacy.get(name) as Uint8Array);
  }

  svOf(name: string): Uint8Array {
    return Y.encodeStateVector(this.sourceDoc(name));
  }

  hashOf(name: string): string {
    return createHash('sha256')
      .update(this.legacy.get(name) as Uint8Array)
      .digest('hex');
  }

  private async reset(): Promise<void> {
    for (const c of this.clients.splice(0)) c.close();
    for (const s of this.servers.splice(0)) await s.close(0);
    await this.db?.drop();
    this.cleanup?.();
    this.db = undefined;
    this.cleanup = undefined;
  }
}

/** GET of a Yjs route of a doc, in-process. */
export const getYjs = (r: LegacyServer, space: string, docId: string, suffix = '') =>
  r.cairn.fetch(
    new Request(`http://cairn.test/v1/${space}/yjs/${encodeURIComponent(docId)}${suffix}`),
  );

/** The doc's record (marker) and journal rows, its checkpoints, and the space's epoch. */
export function storedOf(r: LegacyServer, docId: string) {
  return withSpaceReader(r.cairn.backend, SPACE, async (ops) => ({
    record: await ops.yjs.getDoc(docId),
    rows: (await ops.yjs.journal(docId, 0, Number.MAX_SAFE_INTEGER, 1000)).length,
    checkpoints: (await ops.yjs.checkpoints(docId)).length,
    epoch: (await ops.chainTip()).epoch,
  }));
}
