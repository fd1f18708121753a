import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createCairn } from '../../src/app/create-cairn.js';
import { TEST_BACKEND } from '../helpers/backend.js';
import { b64, Replica } from '../helpers/changes.js';
import { LiveTestClient } from '../helpers/live-client.js';
import {
  CLI_ENTRY,
  REPO_ROOT,
  startServer,
  stopAllServers,
  type ServerProcess,
} from '../helpers/server-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/**
 * What a `cairn` process does at its edges: one process per SQLite data dir,
 * a graceful stop on SIGTERM, a clear exit on a data dir it cannot use, `--version`, and an honest
 * `Connection` header on a 413.
 */

const temp = makeTempDir('cairn-e2e-process-');
afterAll(async () => {
  await stopAllServers();
  temp.cleanup();
});

/** Runs the CLI to completion (bounded), as a user would. */
function cli(args: string[], timeoutMs = 15_000) {
  const out = spawnSync(process.execPath, [CLI_ENTRY, ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, CAIRN_DATABASE_URL: '', LOG_LEVEL: 'warn' },
  });
  return {
    code: out.status,
    stdout: out.stdout,
    stderr: out.stderr,
    timedOut: out.error !== undefined,
  };
}

describe.skipIf(TEST_BACKEND !== 'sqlite')('one process per SQLite data dir', () => {
  it('a second cairn serve on a data dir in use refuses, naming the holder; after a crash the dir is free', async () => {
    const dataDir = path.join(temp.dir, 'shared');
    const first: ServerProcess = await startServer({ dataDir });
    const second = cli(['serve', '--auth', 'off', '--port', '0', '--data', dataDir]);
    expect(second.timedOut).toBe(false);
    expect(second.code).toBe(1);
    expect(second.stderr.trim().split('\n')).toHaveLength(1);
    expect(second.stderr).toContain(`in use by process ${first.child.pid}`);
    // The embedding API refuses the same way, in-process.
    await expect(createCairn({ dataDir })).rejects.toThrow(/in use by process/);
    await first.kill('SIGKILL');
    const after = await startServer({ dataDir });
    const res = await fetch(`${after.url}/healthz`);
    expect(res.status).toBe(200);
    await after.stop();
  });

  it('on SIGTERM closes live sockets with 1001, exits 0 and closes its databases (lock freed, WAL checkpointed)', async () => {
    const dataDir = path.join(temp.dir, 'graceful');
    const server = await startServer({ dataDir });
    const space = 'did:key:z6MkGracefulShutdown';
    const live = await LiveTestClient.connect(server.url, space);
    await live.hello('graceful');
    await live.call('/storage/subscribe', { docId: 'doc' });
    const r = new Replica(1);
    const res = await fetch(`${server.url}/v1/${space}/tx`, {
      method: 'POST',
      body: JSON.stringify({
        writes: [{ docId: 'doc', baseHeads: [], changes: [b64(r.change((d) => (d.n = 1)))] }],
      }),
    });
    expect(res.status).toBe(200);
    await live.waitFor((f) => f.type === 'deliver');

    const exit = await server.kill('SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null, timedOut: false });
    expect((await live.waitClosed()).code).toBe(1001);
    // Every database was closed: SQLite folds the WAL back into the file on the last close.
    const spacesDir = path.join(dataDir, 'spaces');
    const leftovers = [dataDir, spacesDir].flatMap((d) =>
      fs.readdirSync(d).filter((f) => f.endsWith('-wal') && fs.statSync(path.join(d, f)).size > 0),
    );
    expect(leftovers).toEqual([]);
    // The data dir lock is free at once: an operator command runs.
    const listed = cli(['spaces', 'list', '--data', dataDir, '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual({ spaces: [space] });
  });

  it('exits at once with a one-line error on a data dir it cannot use', () => {
    const file = path.join(temp.dir, 'a-file');
    fs.writeFileSync(file, 'x');
    for (const dataDir of [path.join(file, 'sub'), '/proc/cairn-cannot-write-here']) {
      const run = cli(['serve', '--auth', 'off', '--port', '0', '--data', dataDir], 10_000);
      expect(run.timedOut, dataDir).toBe(false);
      expect(run.code, dataDir).toBe(1);
      const lines = run.stderr.trim().split('\n');
      expect(lines, run.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^cairn: data dir .* cannot be used/);
    }
  });
});

describe('the cairn command', () => {
  it('prints its version with --version', () => {
    const version = (
      JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
        version: string;
      }
    ).version;
    const run = cli(['--version']);
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe(version);
  });
});

describe('a 413 for a body over the limit', () => {
  it('says Connection: close when the server will close (a chunked upload of unknown size)', async () => {
    const server = await startServer({ dataDir: path.join(temp.dir, 'upload') });
    const answer = await new Promise<{ status: number; connection: string | undefined }>(
      (resolve, reject) => {
        const req = http.request(
          `${server.url}/v1/did:key:z6MkUpload/tx`,
          {
            method: 'POST',
            headers: { 'transfer-encoding': 'chunked', 'content-type': 'application/json' },
          },
          (res) => {
            res.resume();
            resolve({ status: res.statusCode ?? 0, connection: res.headers.connection });
          },
        );
        req.on('error', reject);
        const chunk = Buffer.alloc(1024 * 1024, 0x20);
        let sent = 0;
        const pump = () => {
          while (sent < 24) {
            sent++;
            if (!req.write(chunk)) return void req.once('drain', pump);
          }
          req.end();
        };
        pump();
      },
    );
    expect(answer.status).toBe(413);
    expect(answer.connection).toBe('close');
    await server.stop();
  });

  // Regression: the answer said keep-alive, then the socket was destroyed ~0.5 s later.
  it('keeps a keep-alive connection usable after a 413 for a body with a Content-Length', async () => {
    const server = await startServer({ dataDir: path.join(temp.dir, 'keep-alive') });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const send = (method: string, route: string, body?: Buffer) =>
      new Promise<{ status: number; connection?: string; port?: number; reused: boolean }>(
        (resolve, reject) => {
          const req = http.request(`${server.url}${route}`, { method, agent }, (res) => {
            res.resume();
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                ...(res.headers.connection ? { connection: res.headers.connection } : {}),
                ...(req.socket?.localPort ? { port: req.socket.localPort } : {}),
                reused: req.reusedSocket,
              }),
            );
          });
          req.on('error', reject);
          req.end(body);
        },
      );
    const big = Buffer.alloc(17 * 1024 * 1024, 0x20);
    const refused = await send('POST', '/v1/did:key:z6MkKeepAlive/tx', big);
    expect(refused.status).toBe(413);
    expect(refused.connection).toBe('keep-alive');
    // Longer than the ~0.5 s after which the socket used to be destroyed.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const next = await send('GET', '/healthz');
    expect(next.status).toBe(200);
    expect(next.reused).toBe(true);
    expect(next.port).toBe(refused.port);
    agent.destroy();
    await server.stop();
  });
});
