import { afterEach } from 'vitest';
import type { CairnOptions } from '../../src/app/create-cairn.js';
import { listen, type RunningServer } from '../../src/app/serve.js';
import { startEngine, type TestEngine } from './engine.js';

/**
 * An engine on the backend under test served over a real socket, for the
 * live tests; everything it started (and every client handed to `track`) is
 * closed after each test.
 */
export class LiveHarness {
  engine: TestEngine | undefined;
  server: RunningServer | undefined;
  private readonly tracked: { close(): void }[] = [];

  constructor() {
    afterEach(() => this.reset());
  }

  /** A fresh engine, listening on 127.0.0.1; its base URL. */
  async start(options: CairnOptions = {}): Promise<{ e: TestEngine; url: string }> {
    this.engine = await startEngine(options);
    return { e: this.engine, url: await this.serve() };
  }

  /** Serves the current engine (again, after `stopServer` and a reopen). */
  async serve(): Promise<string> {
    if (!this.engine) throw new Error('start() first');
    this.server = await listen(this.engine.cairn, '127.0.0.1', 0);
    return `http://127.0.0.1:${this.server.port}`;
  }

  /** Stops listening (closing live connections with 1001) and the engine with it. */
  async stopServer(): Promise<void> {
    await this.server?.close(0);
    this.server = undefined;
  }

  track<T extends { close(): void }>(client: T): T {
    this.tracked.push(client);
    return client;
  }

  private async reset(): Promise<void> {
    for (const c of this.tracked.splice(0)) c.close();
    await this.stopServer();
    await this.engine?.close();
    this.engine = undefined;
  }
}
