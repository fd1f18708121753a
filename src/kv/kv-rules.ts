import { CairnError } from '../core/errors.js';
import { isStorableText } from '../core/ids.js';
import type { JsonValue } from '../core/json.js';
import type { KvLimits } from './kv-limits.js';

const INSTALL = /^[A-Za-z0-9._-]{1,64}$/;
const NAMESPACE = /^[a-z0-9][a-z0-9-]{0,63}$/;
const MAX_KEY_CHARS = 128;
const UTF8 = new TextEncoder();

/** SPEC §12 identifiers; a bad one is `ValidationError`. */
export function checkInstall(install: string): void {
  if (!INSTALL.test(install)) {
    throw new CairnError('ValidationError', 'install must match ^[A-Za-z0-9._-]{1,64}$');
  }
}

export function checkNamespace(namespace: string): void {
  if (!NAMESPACE.test(namespace)) {
    throw new CairnError('ValidationError', 'namespace must match ^[a-z0-9][a-z0-9-]{0,63}$');
  }
}

/** 1–128 Unicode characters (code points), no `/`, no control characters. */
export function checkKey(key: string): void {
  const chars = [...key].length;
  if (chars < 1 || chars > MAX_KEY_CHARS || key.includes('/') || !isStorableText(key)) {
    throw new CairnError(
      'ValidationError',
      'key must be 1-128 characters, without "/" or control characters',
      { key },
    );
  }
}

/** Compact JSON text of a value, and its UTF-8 size. */
export function jsonText(value: JsonValue): { text: string; bytes: number } {
  const text = JSON.stringify(value);
  return { text, bytes: UTF8.encode(text).byteLength };
}

/** One put as the rules need it (shape already checked by the route's schema). */
export interface KvPut {
  key: string;
  value: JsonValue;
  metadata?: Record<string, JsonValue>;
  ttlSeconds?: number;
  ifRevision?: number;
  ifAbsent?: boolean;
  schemaVersion?: number;
}

/** A put checked and measured: what is stored. */
export interface MeasuredPut extends KvPut {
  valueText: string;
  metadataText: string;
  bytes: number;
}

/** `LimitExceeded` (413) when a part of a put is over its limit (limits inclusive). */
function checkSize(part: 'value' | 'metadata', bytes: number, max: number, key: string): void {
  if (bytes <= max) return;
  throw new CairnError('LimitExceeded', `the ${part} is ${bytes} bytes (at most ${max})`, {
    limit: `${part}Bytes`,
    requested: bytes,
    max,
    key,
  });
}

/** Checks a put's key, sizes (`LimitExceeded`, 413) and TTL range; returns its stored texts. */
export function measurePut(put: KvPut, limits: KvLimits): MeasuredPut {
  checkKey(put.key);
  const value = jsonText(put.value);
  const metadata = jsonText(put.metadata ?? {});
  checkSize('value', value.bytes, limits.valueBytes, put.key);
  checkSize('metadata', metadata.bytes, limits.metadataBytes, put.key);
  const ttl = put.ttlSeconds;
  if (
    ttl !== undefined &&
    !(Number.isInteger(ttl) && ttl >= limits.minTtlSeconds && ttl <= limits.maxTtlSeconds)
  ) {
    throw new CairnError(
      'ValidationError',
      `ttlSeconds must be an integer in ${limits.minTtlSeconds}-${limits.maxTtlSeconds}`,
      { key: put.key },
    );
  }
  if (put.ifAbsent && put.ifRevision !== undefined) {
    throw new CairnError('ValidationError', 'give ifRevision or ifAbsent, not both', {
      key: put.key,
    });
  }
  return {
    ...put,
    valueText: value.text,
    metadataText: metadata.text,
    bytes: value.bytes + metadata.bytes,
  };
}
