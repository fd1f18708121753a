import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import { identityFromSeed } from '../../src/auth/server-identity.js';
import { mintUcan } from '../../src/auth/ucan-mint.js';
import type { Capability } from '../../src/auth/capabilities.js';
import { withSpaceReader } from '../../src/storage/space-access.js';
import { TEST_SERVER_KEY } from '../helpers/engine.js';
import { LiveHarness } from '../helpers/live-server.js';
import { connectProvider, synced, until } from '../helpers/yjs-provider.js';

/**
 * SPEC §11 auth on the y-websocket endpoint, with the stock provider: the
 * token comes as the `token` query parameter; none (or a bad one) is 401
 * before the upgrade, one for another space 403; a read-only token syncs
 * and receives but its edits are refused in-band (permission-denied) and
 * never stored; a session whose token lapses is closed with 4001.
 */

const harness = new LiveHarness();
const seed = (n: number) => new Uint8Array(32).fill(n);
const space = identityFromSeed(seed(31));
const server = identityFromSeed(Buffer.from(TEST_SERVER_KEY, 'base64url'));

const token = (can: Capability['can'], opts: { spaceSeed?: number; ttlSec?: number } = {}) => {
  const issuer = opts.spaceSeed ?? 31;
  return mintUcan({
    issuerSeed: seed(issuer),
    audience: server.did,
    capabilities: [{ with: identityFromSeed(seed(issuer)).did, can }],
    ttlSec: opts.ttlSec ?? 3600,
  });
};

/** The HTTP status of a refused upgrade (or 101 when it was accepted). */
function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('open', () => {
      resolve(101);
      ws.close();
    });
    ws.on('error', () => undefined);
  });
}

describe('y-websocket auth', () => {
  it('refuses the upgrade without a valid token (401) or with one for another space (403)', async () => {
    const { url } = await harness.start({ auth: 'required' });
    const base = `${url.replace(/^http/, 'ws')}/v1/${space.did}/yjs/doc`;
    expect(await upgradeStatus(base)).toBe(401);
    expect(await upgradeStatus(`${base}?token=garbage`)).toBe(401);
    expect(await upgradeStatus(`${base}?token=${token('storage/read', { spaceSeed: 32 })}`)).toBe(
      403,
    );
    expect(await upgradeStatus(`${base}?token=${token('storage/read')}`)).toBe(101);
  });

  it('lets a read-only token sync and receive, refuses its edits, and stores none of them', async () => {
    const { e, url } = await harness.start({ auth: 'required' });
    const writer = harness.track(
      connectProvider(url, space.did, 'doc', { token: token('storage/write') }),
    );
    const reader = harness.track(
      connectProvider(url, space.did, 'doc', { token: token('storage/read') }),
    );
    await Promise.all([synced(writer.provider), synced(reader.provider)]);
    writer.doc.getText('t').insert(0, 'from the writer');
    await until(() => reader.doc.getText('t').toString() === 'from the writer', 'reader receives');
    const denied = new Promise<string>((resolve) => {
      // The stock provider reports an auth message "permission-denied" with console.warn.
      const original = console.warn;
      console.warn = (...args: unknown[]) => {
        console.warn = original;
        resolve(args.map(String).join(' '));
      };
    });
    reader.doc.getText('t').insert(0, 'not allowed ');
    expect(await denied).toMatch(/Permission denied/i);
    // The writer keeps editing; the reader's edit never reaches it or storage.
    writer.doc.getText('t').insert(15, '!');
    await until(
      () => reader.doc.getText('t').toString().endsWith('writer!'),
      'reader still receives',
    );
    expect(writer.doc.getText('t').toString()).toBe('from the writer!');
    const rows = await withSpaceReader(e.cairn.backend, space.did, (ops) =>
      ops.yjs.journal('doc', 0, Number.MAX_SAFE_INTEGER, 1000),
    );
    expect(rows).toHaveLength(2);
  });

  it('closes a session whose token expires with 4001', async () => {
    const { url } = await harness.start({ auth: 'required', limits: { tokenClockSkewSec: 0 } });
    // Regression (flaky under load): a 1 s token minted late in a second could lapse before
    // the upgrade (exp is whole seconds) and be refused with 401; 3 s always outlives it.
    const ws = new WebSocket(
      `${url.replace(/^http/, 'ws')}/v1/${space.did}/yjs/doc?token=${token('storage/read', { ttlSec: 3 })}`,
    );
    const opened = new Promise<boolean>((resolve) => {
      ws.once('open', () => resolve(true));
      ws.once('unexpected-response', () => resolve(false));
    });
    const code = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('not closed within 10 s')), 10_000);
      ws.on('close', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
      ws.on('error', () => undefined);
    });
    expect(await opened).toBe(true);
    expect(code).toBe(4001);
  });
});
