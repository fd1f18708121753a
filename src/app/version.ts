import { createRequire } from 'node:module';

/** The package version: from package.json, two levels up from src/app/ and from dist/app/ alike. */
export const CAIRN_VERSION: string = (
  createRequire(import.meta.url)('../../package.json') as { version: string }
).version;
