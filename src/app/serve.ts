import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Cairn } from './create-cairn.js';

export interface RunningServer {
  host: string;
  port: number;
  /** Stops accepting connections, answers what is queued, closes storage. */
  close(): Promise<void>;
}

/** Binds a cairn to a TCP address with Node's HTTP server. */
export async function listen(cairn: Cairn, host: string, port: number): Promise<RunningServer> {
  const server = serve({ fetch: cairn.fetch, hostname: host, port });
  await new Promise<void>((resolve, reject) => {
    if (server.listening) return resolve();
    server.once('listening', () => resolve());
    server.once('error', reject);
  });
  const address = server.address() as AddressInfo;
  return {
    host,
    port: address.port,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await cairn.close();
    },
  };
}
