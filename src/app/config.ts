import { CairnError } from '../core/errors.js';
import { parseSpaceId } from '../core/ids.js';
import type { SqliteSync } from '../storage/sqlite/sqlite-space-store.js';

export type AuthMode = 'required' | 'off';

/** Settings of `cairn serve`, after flags, then `CAIRN_*` variables, then defaults. */
export interface ServeConfig {
  dataDir: string;
  host: string;
  port: number;
  databaseUrl?: string;
  auth: AuthMode;
  sync: SqliteSync;
  serverKey?: string;
  /** Origins allowed by CORS; empty: CORS off. */
  corsOrigins: string[];
  /** Lazy migration (SPEC §11): the legacy Yjs store (`hocuspocus:FILE`) and the space its docs move into. */
  yjsLegacy?: { source: string; space: string };
}

export interface ServeFlags {
  data?: string;
  host?: string;
  port?: string;
  database?: string;
  auth?: string;
  sync?: string;
  corsOrigins?: string;
  yjsLegacy?: string;
  yjsLegacySpace?: string;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost']);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function pick<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new CairnError('ValidationError', `${name} must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

export function resolveServeConfig(flags: ServeFlags, env: NodeJS.ProcessEnv): ServeConfig {
  const portText = flags.port ?? env.CAIRN_PORT ?? '8787';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) {
    throw new CairnError('ValidationError', 'port must be an integer 0-65535');
  }
  const databaseUrl = flags.database ?? env.CAIRN_DATABASE_URL;
  const corsOrigins = parseOrigins(flags.corsOrigins ?? env.CAIRN_CORS_ORIGINS ?? '');
  const serverKey = env.CAIRN_SERVER_KEY;
  const legacySource = flags.yjsLegacy ?? env.CAIRN_YJS_LEGACY ?? '';
  const legacySpace = flags.yjsLegacySpace ?? env.CAIRN_YJS_LEGACY_SPACE ?? '';
  if ((legacySource === '') !== (legacySpace === '')) {
    throw new CairnError('ValidationError', '--yjs-legacy and --yjs-legacy-space go together');
  }
  if (legacySpace !== '') parseSpaceId(legacySpace);
  return {
    dataDir: flags.data ?? env.CAIRN_DATA ?? './data',
    host: flags.host ?? env.CAIRN_HOST ?? '127.0.0.1',
    port,
    auth: pick('auth', flags.auth ?? env.CAIRN_AUTH ?? 'required', ['required', 'off'] as const),
    sync: pick('sync', flags.sync ?? env.CAIRN_SYNC ?? 'full', ['full', 'normal'] as const),
    corsOrigins,
    ...(databaseUrl ? { databaseUrl } : {}),
    ...(serverKey ? { serverKey } : {}),
    ...(legacySource ? { yjsLegacy: { source: legacySource, space: legacySpace } } : {}),
  };
}

/** `--cors-origins a,b`: `*`, or origins like `https://app.example` (scheme, host, optional port). */
function parseOrigins(text: string): string[] {
  const origins = text
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o.length > 0);
  for (const o of origins) {
    if (o !== '*' && !/^https?:\/\/[^/\s]+$/.test(o)) {
      throw new CairnError('ValidationError', `cors origin ${o} must be * or scheme://host[:port]`);
    }
  }
  return origins;
}
