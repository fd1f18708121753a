import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

/** The shared traces sit beside the project (../shared/data/traces); never copied into it. */
export const TRACES_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../shared/data/traces',
);

export function traceFile(name: string): string | undefined {
  const file = path.join(TRACES_DIR, `${name}.json.gz`);
  return fs.existsSync(file) ? file : undefined;
}

export function loadTrace<T>(file: string): T {
  return JSON.parse(zlib.gunzipSync(fs.readFileSync(file)).toString('utf8')) as T;
}

export const TRACE_MISSING = 'skipped: trace data not found';
